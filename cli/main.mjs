// The edgeq CLI: global options, the command groups, and the exit codes:
// 0 success; 1 an error answer from edgeq (its code and message on stderr)
// or no answer at all; 2 a usage error (the usage on stderr).
import { Command, CommanderError, Option } from "commander";
import { COMMANDS } from "./commands/index.mjs";
import { ApiError, NetworkError, connect } from "./http.mjs";

/** Where edgeq runs when neither --url nor EDGEQ_URL says: `npm start`'s address. */
export const DEFAULT_URL = "http://localhost:8787";

/** Exit codes, one rule for every command. */
export const EXIT = { ok: 0, error: 1, usage: 2 };

/** What a command's action works with: the request function, the output mode and the printers. */
function context(cmd) {
  const { url, token, json } = cmd.optsWithGlobals();
  try {
    if (!/^https?:$/.test(new URL(url).protocol)) throw new Error();
  } catch {
    cmd.error(`error: --url / EDGEQ_URL: expected an http(s) URL, got "${url}"`, { exitCode: EXIT.usage });
  }
  return {
    request: connect({ url, token }),
    json: Boolean(json),
    hasToken: Boolean(token),
    /** One JSON document on one line (a JSON line): --json output. */
    printJson: (doc) => process.stdout.write(`${JSON.stringify(doc)}\n`),
    /** A line for people, on stdout. */
    print: (text) => process.stdout.write(`${text}\n`),
    /** A remark for people, on stderr, so stdout stays the result. */
    note: (text) => process.stderr.write(`${text}\n`),
    /** A usage error of this command: exit 2 with its usage. */
    usage: (message) => cmd.error(`error: ${message}`, { exitCode: EXIT.usage, code: "edgeq.usage" }),
    /** The path of a queue's routes. */
    queuePath: (name) => `/v1/queues/${encodeURIComponent(name)}`,
  };
}

/** The program with every command group of COMMANDS. */
export function buildProgram() {
  const program = new Command("edgeq")
    .description("Operate edgeq, a durable message queue on Cloudflare Workers, over its HTTP API.")
    .addOption(new Option("--url <url>", "where edgeq runs").env("EDGEQ_URL").default(DEFAULT_URL))
    .addOption(new Option("--token <token>", "bearer token: the admin token or a scoped one").env("EDGEQ_TOKEN"))
    .option("--json", "machine output: the server's JSON, one document per line")
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError(true)
    .exitOverride();
  for (const add of COMMANDS) add(program, context);
  return program;
}

/** Runs the CLI on `argv` (without node and the script). Answers the exit code. */
export async function main(argv) {
  // A reader that stops reading (`edgeq peek q --json | head -1`) is no failure of ours: stop writing, quietly.
  process.stdout.on("error", (error) => {
    if (error.code !== "EPIPE") process.stderr.write(`edgeq: stdout: ${error.message}\n`);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof ApiError) {
      process.stderr.write(`edgeq: ${error.code}: ${error.message}\n`);
      if (error.code === "UNAUTHORIZED" && !program.opts().token) process.stderr.write("edgeq: no token given: set EDGEQ_TOKEN or --token\n");
      return EXIT.error;
    }
    if (error instanceof NetworkError) {
      process.stderr.write(`edgeq: ${error.message}\n`);
      return EXIT.error;
    }
    process.stderr.write(`edgeq: unexpected failure: ${error?.stack ?? error}\n`);
    return EXIT.error;
  }
}
