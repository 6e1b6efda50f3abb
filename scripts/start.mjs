// `npm start`: edgeq under `wrangler dev`, offline (no metrics, no fetch of
// Cloudflare's request data, no observability upload), state kept in
// .wrangler/state unless `--persist-to DIR` names another place. The port
// comes from `--port N` (or `--port=N`), else the PORT variable, else 8787;
// any other argument goes to wrangler dev as it is.
//
//   npm start                     # http://localhost:8787
//   npm start -- --port 9000      # http://localhost:9000
//   PORT=9123 npm start
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";

/** The port when neither `--port` nor PORT names one. */
const DEFAULT_PORT = 8787;

/** Splits the arguments into the chosen port (or undefined) and the rest, for wrangler. */
function parseArgs(argv) {
  let port;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--port") {
      if (i + 1 >= argv.length) fail("--port needs a value: npm start -- --port 9000");
      port = argv[++i];
    } else if (arg.startsWith("--port=")) {
      port = arg.slice("--port=".length);
    } else {
      rest.push(arg);
    }
  }
  return { port, rest };
}

/** The port as a number, or an exit with a message that names where the bad value came from. */
function checkPort(value, source) {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) fail(`${source} must be a port number from 1 to 65535, not "${value}"`);
  return port;
}

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(2);
}

const { port: portArg, rest } = parseArgs(process.argv.slice(2));
const port =
  portArg !== undefined
    ? checkPort(portArg, "--port")
    : process.env.PORT
      ? checkPort(process.env.PORT, "PORT")
      : DEFAULT_PORT;

// A `--persist-to` of the caller's (a test's temporary directory) replaces .wrangler/state.
const persistGiven = rest.some((arg) => arg === "--persist-to" || arg.startsWith("--persist-to="));

const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
const child = spawn(
  process.execPath,
  [wrangler, "dev", "--port", String(port), ...(persistGiven ? [] : ["--persist-to", ".wrangler/state"]), ...rest],
  {
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", X_LOCAL_OBSERVABILITY: "false" },
  },
);
// A signal sent to this process alone (a supervisor's SIGTERM) still stops wrangler.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
