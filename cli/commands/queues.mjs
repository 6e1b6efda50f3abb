// `edgeq queues …`: queues as resources (list, get, create, update, delete)
// and the operations on a whole queue (pause, resume, purge). Every one
// needs the `manage` scope; `list` needs it on `*`.
import { ApiError } from "../http.mjs";
import { duration, fromNow, table } from "../format.mjs";
import { NO_LIMIT, integer, limit, number } from "../options.mjs";
import { statsTable } from "./stats.mjs";

/** The settings `create` and `update` take, one flag each (the field in kebab case): [field, flags, description, parser]. */
const SETTINGS = [
  ["partitions", "--partitions <n>", "partition objects, 1..64, never lower than now (default 1)", number],
  ["visibilityTimeoutMs", "--visibility-timeout-ms <ms>", "lease of a receive that names none (default 30000)", number],
  ["maxAttempts", "--max-attempts <n>", "deliveries before a message becomes a dead letter (default 5)", number],
  ["backoffBaseMs", "--backoff-base-ms <ms>", "first retry delay, doubled per attempt (default 1000)", number],
  ["backoffMaxMs", "--backoff-max-ms <ms>", "longest retry delay (default 300000)", number],
  ["retentionMs", "--retention-ms <ms>", "age at which an unconsumed message expires to the dead letters (default 4 days)", number],
  ["dedupWindowMs", "--dedup-window-ms <ms>", "how long a dedup id is remembered (default 300000)", number],
  ["maxMessageBytes", "--max-message-bytes <n>", "largest message, JSON body plus attributes (default 262144)", number],
  ["maxDepth", "--max-depth <n|none>", "most messages stored; none: no limit (default none)", limit],
  ["maxInFlight", "--max-in-flight <n|none>", "most messages leased at once; none: no limit (default none)", limit],
  ["deliveryRatePerSec", "--delivery-rate-per-sec <n|none>", "most messages leased per second; none: no limit (default none)", limit],
];

/** The settings given on the command line, as the PUT body. */
const patchOf = (opts) =>
  Object.fromEntries(SETTINGS.filter(([field]) => opts[field] !== undefined).map(([field]) => [field, opts[field] === NO_LIMIT ? null : opts[field]]));

const withSettings = (cmd) => {
  // commander names each value after its flag in camelCase: the field's own name.
  for (const [, flags, description, parse] of SETTINGS) cmd.option(flags, description, parse);
  return cmd;
};

/** A queue's settings, one row each; durations also for people. */
function configTable(info) {
  const rows = Object.entries(info.config).map(([field, value]) => [
    field,
    typeof value === "number" && field.endsWith("Ms") ? `${value} (${duration(value)})` : value === null ? "none" : value,
  ]);
  return table([["name", info.name], ["created", `${new Date(info.createdAt).toISOString()} (${fromNow(info.createdAt)})`], ...rows]);
}

/** Adds `queues` and its subcommands. */
export function addQueues(program, context) {
  const queues = program.command("queues").description("list, inspect, create, change, pause, resume, purge and delete queues");

  queues
    .command("list")
    .description("every queue, by name, with a stats summary (manage scope on *)")
    .option("--limit <n>", "queues in this page, 1..1000 (at most 100 with stats)", integer(1), 100)
    .option("--cursor <name>", "go on after this queue name (the cursor of the previous page)")
    .option("--no-stats", "leave out the stats: configuration only")
    .addHelpText("after", "\nExample:\n  edgeq queues list --limit 20")
    .action(async (opts, cmd) => {
      const ctx = context(cmd);
      const page = await ctx.request("GET", "/v1/queues", {
        query: { limit: opts.limit, cursor: opts.cursor, stats: String(opts.stats) },
      });
      if (ctx.json) return ctx.printJson(page);
      const head = opts.stats
        ? ["name", "status", "depth", "ready", "delayed", "in flight", "dead letters", "oldest ready", "partitions", "paused"]
        : ["name", "partitions", "paused", "created"];
      const rows = page.queues.map(({ name, config, createdAt, stats: s }) =>
        opts.stats
          ? [name, s.status, s.depth, s.ready, s.delayed, s.inFlight, s.deadLetters, duration(s.oldestReadyAgeMs), config.partitions, config.paused]
          : [name, config.partitions, config.paused, new Date(createdAt).toISOString()],
      );
      ctx.print(page.queues.length === 0 ? "no queues" : table(rows, { head }));
      if (page.cursor) ctx.note(`more: edgeq queues list --cursor ${page.cursor}`);
    });

  queues
    .command("get")
    .argument("<queue>", "queue name")
    .description("a queue's settings and stats")
    .addHelpText("after", "\nExample:\n  edgeq queues get orders")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const info = await ctx.request("GET", ctx.queuePath(name));
      if (ctx.json) return ctx.printJson(info);
      ctx.print(configTable(info));
      ctx.print(statsTable(info.stats));
    });

  withSettings(
    queues
      .command("create")
      .argument("<queue>", "queue name: 1 to 64 letters, digits, '_' or '-'")
      .description("create a queue; settings not given keep their defaults (exit 1 with CONFLICT if it exists)"),
  )
    .addHelpText("after", "\nExample:\n  edgeq queues create orders --max-attempts 10 --delivery-rate-per-sec 16.67")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      // PUT creates or changes: look first, so that create never changes a queue that exists.
      const exists = await ctx.request("GET", ctx.queuePath(name)).then(
        () => true,
        (error) => {
          if (error instanceof ApiError && error.code === "QUEUE_NOT_FOUND") return false;
          throw error;
        },
      );
      if (exists) throw new ApiError("CONFLICT", `queue ${name} exists; change it with: edgeq queues update ${name}`, 409);
      const info = await ctx.request("PUT", ctx.queuePath(name), { body: patchOf(opts) });
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`created ${name}`);
      ctx.print(configTable(info));
    });

  withSettings(
    queues
      .command("update")
      .argument("<queue>", "queue name")
      .description("change some settings of a queue that exists; the others keep their value"),
  )
    .addHelpText("after", "\nExample:\n  edgeq queues update orders --max-depth 100000 --max-in-flight none")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const patch = patchOf(opts);
      if (Object.keys(patch).length === 0) ctx.usage("give at least one setting to change");
      // PUT would create a queue that does not exist: a misspelt name must not.
      await ctx.request("GET", ctx.queuePath(name));
      const info = await ctx.request("PUT", ctx.queuePath(name), { body: patch });
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`updated ${name}`);
      ctx.print(configTable(info));
    });

  queues
    .command("delete")
    .argument("<queue>", "queue name")
    .description("delete a queue and everything in it: messages, dead letters, dedup ids, counters")
    .addHelpText("after", "\nExample:\n  edgeq queues delete orders")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const answer = await ctx.request("DELETE", ctx.queuePath(name));
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(`deleted ${name}`);
    });

  const stateChange = (verb, description, done) =>
    queues
      .command(verb)
      .argument("<queue>", "queue name")
      .description(description)
      .addHelpText("after", `\nExample:\n  edgeq queues ${verb} orders`)
      .action(async (name, opts, cmd) => {
        const ctx = context(cmd);
        const answer = await ctx.request("POST", `${ctx.queuePath(name)}/${verb}`);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(done(name, answer));
      });
  stateChange("pause", "stop delivering: enqueues are still accepted, receives answer empty", (name) => `paused ${name}`);
  stateChange("resume", "deliver again after a pause", (name) => `resumed ${name}`);
  stateChange(
    "purge",
    "delete the ready and delayed messages (leased ones stay, so their consumers can still ack)",
    (name, answer) => `purged ${answer.purged} message${answer.purged === 1 ? "" : "s"} from ${name}`,
  );
}
