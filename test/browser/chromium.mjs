// Chromium for the browser tests, from npm alone: @sparticuz/chromium carries a
// headless Chromium inside the package, brotli-compressed, and this module
// unpacks it once per package version and launches it with playwright-core.
// Nothing is downloaded and no system browser is needed.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import sparticuz from "@sparticuz/chromium";
import { chromium } from "playwright-core";

/**
 * Flags the package sets for serverless hosts that the tests must not have:
 * `--disable-web-security` turns CORS and the same-origin policy off, and the
 * tests must see what a user's browser enforces; `--single-process` (for
 * Lambda's sandbox) makes Chromium exit when a browser context closes.
 */
const DROPPED = new Set(["--disable-web-security", "--single-process"]);

/** The package's flags, less DROPPED. */
const ARGS = [
  ...sparticuz.args.filter((arg) => !DROPPED.has(arg)),
  // This machine's network is closed: Chromium's own connections only fail.
  "--disable-background-networking",
  "--disable-component-update",
];

/**
 * The unpacked binary's path. The package unpacks into os.tmpdir() and
 * reuses whatever it finds there, even a half-written or older binary; so it
 * unpacks into a fresh directory (os.tmpdir() follows TMPDIR) that is then
 * renamed, whole, to a directory named after the package version. A second
 * process that unpacks at the same time loses the rename and uses the winner's.
 */
async function executablePath() {
  // The package exports no package.json; its entry is build/index.js.
  const entry = createRequire(import.meta.url).resolve("@sparticuz/chromium");
  const { version } = JSON.parse(await readFile(join(dirname(entry), "..", "package.json"), "utf8"));
  const home = join(tmpdir(), `edgeq-sparticuz-chromium-${version}`);
  const binary = join(home, "chromium");
  if (existsSync(binary)) return binary;

  const staging = await mkdtemp(join(tmpdir(), "edgeq-chromium-unpack-"));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = staging;
  try {
    await sparticuz.executablePath();
    await rename(staging, home);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(binary)) throw err;
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  return binary;
}

/**
 * Launches headless Chromium (a playwright-core Browser, with its own
 * throw-away profile). Close it with `browser.close()`.
 */
export async function launchChromium() {
  return chromium.launch({ executablePath: await executablePath(), args: ARGS, headless: true });
}
