// `edgeq queues …`: queues as resources (list, get, create, update, delete)
// and the operations on a whole queue (pause, resume, purge). Every one
// needs the `manage` scope; `list` needs it on `*`.
import { ApiError } from "../http.mjs";
import { duration, fromNow, table } from "../format.mjs";
import { NO_LIMIT, header, integer, limit, number } from "../options.mjs";
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

/** Push delivery's flags: the target, then how it delivers (docs/push.md). [option name, flags, description, parser]. */
const PUSH_SETTINGS = [
  ["pushUrl", "--push-url <url>", "push to this endpoint (http or https): signed POSTs of each batch"],
  ["pushService", "--push-service <binding>", "push to the Worker behind this service binding of edgeq"],
  ["pushHeader", "--push-header <name:value>", "an extra header for the endpoint, repeatable (its value is never shown again)", header],
  ["pushBatchSize", "--push-batch-size <n>", "messages per push, 1..100 (default 10)", number],
  ["pushBatchWaitMs", "--push-batch-wait-ms <ms>", "wait this long for a fuller batch, 0..60000 (default 0)", number],
  ["pushTimeoutMs", "--push-timeout-ms <ms>", "a push slower than this fails as timeout, 1000..60000 (default 15000)", number],
];

/** `push` as the PUT sets it (whole), from the push flags; undefined when none was given. */
function pushOf(opts, usage) {
  if (opts.push === false) {
    if (PUSH_SETTINGS.some(([name]) => opts[name] !== undefined)) usage("--no-push takes no other --push-* option");
    return null;
  }
  const given = PUSH_SETTINGS.filter(([name]) => opts[name] !== undefined);
  if (given.length === 0) return undefined;
  if ((opts.pushUrl === undefined) === (opts.pushService === undefined)) usage("give --push-url or --push-service (one of the two) with the other --push-* options");
  if (opts.pushService !== undefined && opts.pushHeader !== undefined) usage("--push-header goes with --push-url, not with --push-service");
  return {
    ...(opts.pushUrl !== undefined ? { url: opts.pushUrl } : { service: opts.pushService }),
    ...(opts.pushHeader !== undefined ? { headers: opts.pushHeader } : {}),
    ...(opts.pushBatchSize !== undefined ? { batchSize: opts.pushBatchSize } : {}),
    ...(opts.pushBatchWaitMs !== undefined ? { batchWaitMs: opts.pushBatchWaitMs } : {}),
    ...(opts.pushTimeoutMs !== undefined ? { timeoutMs: opts.pushTimeoutMs } : {}),
  };
}

/** The settings given on the command line, as the PUT body. */
const patchOf = (opts, usage) => {
  const patch = Object.fromEntries(
    SETTINGS.filter(([field]) => opts[field] !== undefined).map(([field]) => [field, opts[field] === NO_LIMIT ? null : opts[field]]),
  );
  const push = pushOf(opts, usage);
  return push === undefined ? patch : { ...patch, push };
};

const withSettings = (cmd) => {
  // commander names each value after its flag in camelCase: the field's own name.
  for (const [, flags, description, parse] of SETTINGS) cmd.option(flags, description, parse);
  for (const [, flags, description, parse] of PUSH_SETTINGS) cmd.option(flags, description, parse);
  cmd.option("--no-push", "stop pushing: consumers receive again");
  return cmd;
};

/** A queue's push setting in one line. */
function pushLine(push) {
  if (push === null) return "none (consumers receive)";
  const target = push.url !== undefined ? push.url : `Worker behind ${push.service}`;
  const headers = push.headerNames ? `, headers ${push.headerNames.join(", ")}` : "";
  return `${target}${headers}; batches of ${push.batchSize}, wait ${push.batchWaitMs} ms, timeout ${push.timeoutMs} ms`;
}

/** A queue's settings, one row each; durations also for people. */
function configTable(info) {
  const rows = Object.entries(info.config).map(([field, value]) => [
    field,
    field === "push"
      ? pushLine(value)
      : typeof value === "number" && field.endsWith("Ms")
        ? `${value} (${duration(value)})`
        : value === null
          ? "none"
          : value,
  ]);
  return table([["name", info.name], ["created", `${new Date(info.createdAt).toISOString()} (${fromNow(info.createdAt)})`], ...rows]);
}

/** A signing secret is answered once: said apart, on stderr, so that a pipe of stdout does not carry it by accident. */
function noteSecret(ctx, info) {
  if (!info.push) return;
  ctx.note(`signing secret (shown once, keep it with the endpoint): ${info.push.signingSecret}`);
  if (info.push.previousExpiresAt !== null) ctx.note(`the previous secret signs too until ${new Date(info.push.previousExpiresAt).toISOString()}`);
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
      const info = await ctx.request("PUT", ctx.queuePath(name), { body: patchOf(opts, ctx.usage) });
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`created ${name}`);
      ctx.print(configTable(info));
      noteSecret(ctx, info);
    });

  withSettings(
    queues
      .command("update")
      .argument("<queue>", "queue name")
      .description("change some settings of a queue that exists; the others keep their value"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  edgeq queues update orders --max-depth 100000 --max-in-flight none\n" +
        "  edgeq queues update orders --push-url https://pay.example.com/hooks --push-header 'Authorization: Bearer t0k' --delivery-rate-per-sec 16.7\n" +
        "  edgeq queues update orders --no-push",
    )
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const patch = patchOf(opts, ctx.usage);
      if (Object.keys(patch).length === 0) ctx.usage("give at least one setting to change");
      // PUT would create a queue that does not exist: a misspelt name must not.
      await ctx.request("GET", ctx.queuePath(name));
      const info = await ctx.request("PUT", ctx.queuePath(name), { body: patch });
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`updated ${name}`);
      ctx.print(configTable(info));
      noteSecret(ctx, info);
    });

  queues
    .command("rotate-secret")
    .argument("<queue>", "queue name")
    .description("a new signing secret for push to an endpoint, shown once; the previous one signs too for 24 hours")
    .addHelpText("after", "\nExample:\n  edgeq queues rotate-secret orders")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const info = await ctx.request("POST", `${ctx.queuePath(name)}/push/rotate-secret`);
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`rotated the signing secret of ${name}`);
      noteSecret(ctx, info);
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
