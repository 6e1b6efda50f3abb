// Builds the client for use outside this repository: dist/client/ holds ES
// modules (index.js, tokens.js, protocol.js, verify.js, stream.js; consumer.js
// for Workers only) with their .d.ts types, for browsers, Workers, Deno and
// Node >= 18. Then imports the result in Node to prove it loads there
// without a bundler (all but consumer.js, which imports cloudflare:workers).
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { build } from "esbuild";

// Every module of client/: the build is unbundled, so a module left out here breaks the imports of the others.
const entries = readdirSync("client").filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).map((f) => `client/${f}`);

await build({
  entryPoints: entries,
  outdir: "dist/client",
  format: "esm",
  platform: "neutral",
  target: "es2020",
  bundle: false,
});

// Types checked against the DOM's fetch alone, so they hold outside Workers too.
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "client/tsconfig.build.json"], {
  stdio: "inherit",
});

const client = await import(new URL("../dist/client/index.js", import.meta.url));
const tokens = await import(new URL("../dist/client/tokens.js", import.meta.url));
const verifier = await import(new URL("../dist/client/verify.js", import.meta.url));
if (typeof verifier.verify !== "function") throw new Error("dist/client/verify.js does not export verify");
if (typeof client.createClient !== "function" || typeof client.QueueError !== "function" || typeof tokens.mintToken !== "function") {
  throw new Error("dist/client does not export createClient, QueueError and mintToken");
}
const { token } = await tokens.mintToken("secret", { scopes: ["publish"], queues: ["q"] });
if (token.split(".").length !== 3) throw new Error("mintToken did not make a JWT in Node");
console.log(`client: built dist/client (${entries.length} modules with types), loads in Node ${process.version}`);
