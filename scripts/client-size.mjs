// Bundles and minifies the browser client (client/index.ts) the way an app's
// bundler would, gzips it, and fails above the budget of 5 KiB (4 KiB until
// consume() streamed: the stream is about 2.2 KiB of it).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 5 * 1024;

const result = await build({
  entryPoints: ["client/index.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "neutral",
  target: "es2020",
  write: false,
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
console.log(`client: ${code.length} bytes minified, ${gzipped} bytes min+gzip (budget ${BUDGET_BYTES})`);
if (gzipped > BUDGET_BYTES) {
  console.error(`client is over its size budget by ${gzipped - BUDGET_BYTES} bytes`);
  process.exit(1);
}
