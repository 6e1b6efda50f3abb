// `edgeq topics …`: topics as resources (list, get, create, update, delete;
// manage scope), publishing (publish scope) and their fan-out stats.
import { InvalidArgumentError } from "commander";
import { ApiError } from "../http.mjs";
import { duration, fromNow, table } from "../format.mjs";
import { attribute, integer } from "../options.mjs";

const topicPath = (name) => `/v1/topics/${encodeURIComponent(name)}`;

/** `--filter QUEUE:NAME=V1,V2` (repeatable): one accepted set of values for one attribute of one subscription. */
function filterOption(value, previous = []) {
  const match = /^([^:]+):([^=]+)=(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`expected QUEUE:NAME=VALUE[,VALUE...], got "${value}"`);
  const values = match[3].split(",").map((v) => v.trim()).filter(Boolean);
  return [...previous, { queue: match[1], name: match[2], values }];
}

/** `--subscribe QUEUE` (repeatable). */
const subscribeOption = (value, previous = []) => [...previous, value];

/**
 * The PUT body from the flags: the subscriptions (replaced whole) when any
 * `--subscribe` is given, each with the filters named for its queue.
 */
function patchOf(ctx, opts) {
  const patch = {};
  if (opts.dedupWindowMs !== undefined) patch.dedupWindowMs = opts.dedupWindowMs;
  const filters = opts.filter ?? [];
  if (opts.subscribe) {
    const subscribed = new Set(opts.subscribe);
    const stray = filters.find((f) => !subscribed.has(f.queue));
    if (stray) ctx.usage(`--filter names ${stray.queue}, which no --subscribe gives`);
    patch.subscriptions = opts.subscribe.map((queue) => {
      const mine = filters.filter((f) => f.queue === queue);
      if (mine.length === 0) return { queue };
      return { queue, filter: Object.fromEntries(mine.map((f) => [f.name, f.values])) };
    });
  } else if (filters.length > 0) {
    ctx.usage("--filter needs the --subscribe of its queue (the subscriptions are replaced whole)");
  } else if (opts.noSubscriptions) {
    patch.subscriptions = [];
  }
  return patch;
}

const withSettings = (cmd) =>
  cmd
    .option("--subscribe <queue>", "a subscribed queue; repeat for more (replaces every subscription)", subscribeOption)
    .option("--filter <queue:name=values>", "only messages whose attribute `name` is one of the comma-separated values; repeat", filterOption)
    .option("--dedup-window-ms <ms>", "how long a publish's dedup id is remembered (default 300000)", integer(0));

/** A topic's subscriptions, one row each. */
function subscriptionsTable(info) {
  const stats = new Map((info.stats?.subscriptions ?? []).map((s) => [s.queue, s]));
  const rows = info.config.subscriptions.map(({ queue, filter }) => {
    const s = stats.get(queue);
    const shown = filter ? Object.entries(filter).map(([k, v]) => `${k}=${v.join("|")}`).join(" ") : "(everything)";
    return [queue, shown, s?.delivered ?? "", s?.filtered ?? "", s?.pending ?? "", s ? duration(s.oldestPendingAgeMs) : ""];
  });
  if (rows.length === 0) return "no subscriptions: every message is filtered";
  return table(rows, { head: ["queue", "filter", "delivered", "filtered", "pending", "lag"] });
}

/** Adds `topics` and its subcommands. */
export function addTopics(program, context) {
  const topics = program.command("topics").description("fan-out: list, create, change, delete topics, publish to them, see their lag");

  topics
    .command("list")
    .description("every topic, by name, with its outbox (manage scope on *)")
    .option("--limit <n>", "topics in this page, 1..1000", integer(1), 100)
    .option("--cursor <name>", "go on after this topic name")
    .option("--no-stats", "leave out the stats")
    .action(async (opts, cmd) => {
      const ctx = context(cmd);
      const page = await ctx.request("GET", "/v1/topics", { query: { limit: opts.limit, cursor: opts.cursor, stats: String(opts.stats) } });
      if (ctx.json) return ctx.printJson(page);
      const rows = page.topics.map(({ name, config, stats: s }) => [
        name,
        config.subscriptions.map((x) => x.queue).join(", "),
        s?.published ?? "",
        s?.pending ?? "",
        s ? duration(s.oldestPendingAgeMs) : "",
      ]);
      ctx.print(rows.length === 0 ? "no topics" : table(rows, { head: ["name", "subscriptions", "published", "pending", "lag"] }));
      if (page.cursor) ctx.note(`more: edgeq topics list --cursor ${page.cursor}`);
    });

  topics
    .command("get")
    .argument("<topic>", "topic name")
    .description("a topic's subscriptions and fan-out stats")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const info = await ctx.request("GET", topicPath(name));
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`${name}: created ${fromNow(info.createdAt)}, dedup window ${duration(info.config.dedupWindowMs)}`);
      if (info.stats) ctx.print(`published ${info.stats.published}, filtered ${info.stats.filtered}, pending ${info.stats.pending}`);
      ctx.print(subscriptionsTable(info));
    });

  withSettings(
    topics
      .command("create")
      .argument("<topic>", "topic name: the queue name rules")
      .description("create a topic (exit 1 with CONFLICT if it exists)"),
  )
    .addHelpText("after", "\nExample:\n  edgeq topics create orders --subscribe payments --subscribe emails --filter emails:kind=paid,refunded")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const exists = await ctx.request("GET", topicPath(name)).then(
        () => true,
        (error) => {
          if (error instanceof ApiError && error.code === "TOPIC_NOT_FOUND") return false;
          throw error;
        },
      );
      if (exists) throw new ApiError("CONFLICT", `topic ${name} exists; change it with: edgeq topics update ${name}`, 409);
      const info = await ctx.request("PUT", topicPath(name), { body: patchOf(ctx, opts) });
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`created ${name}`);
      ctx.print(subscriptionsTable(info));
    });

  withSettings(
    topics
      .command("update")
      .argument("<topic>", "topic name")
      .description("change a topic that exists: --subscribe replaces every subscription")
      .option("--no-subscriptions", "remove every subscription"),
  )
    .addHelpText("after", "\nExample:\n  edgeq topics update orders --subscribe payments --subscribe audit")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      // commander's --no-subscriptions sets `subscriptions: false`.
      const patch = patchOf(ctx, { ...opts, noSubscriptions: opts.subscriptions === false });
      if (Object.keys(patch).length === 0) ctx.usage("give --subscribe, --no-subscriptions or --dedup-window-ms");
      await ctx.request("GET", topicPath(name)); // PUT would create a misspelt topic
      const info = await ctx.request("PUT", topicPath(name), { body: patch });
      if (ctx.json) return ctx.printJson(info);
      ctx.print(`updated ${name}`);
      ctx.print(subscriptionsTable(info));
    });

  topics
    .command("delete")
    .argument("<topic>", "topic name")
    .description("delete a topic and its outbox; its queues keep what they have")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const answer = await ctx.request("DELETE", topicPath(name));
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(`deleted ${name}`);
    });

  topics
    .command("publish")
    .argument("<topic>", "topic name")
    .argument("<body>", "the message body as JSON")
    .description("publish one message: every subscribed queue whose filter takes it gets one copy")
    .option("--text", "the body is a string, not JSON")
    .option("--attr <name=value>", "an attribute (filters match on them); repeat for more", attribute)
    .option("--group <id>", "message group: kept in order in each queue")
    .option("--dedup-id <id>", "a second publish with this id within the topic's window stores nothing")
    .option("--delay-ms <ms>", "milliseconds before the copies can be received", integer(0))
    .addHelpText("after", `\nExample:\n  edgeq topics publish orders '{"order": 42}' --attr kind=paid --dedup-id order-42`)
    .action(async (name, body, opts, cmd) => {
      const ctx = context(cmd);
      let parsed = body;
      if (!opts.text) {
        try {
          parsed = JSON.parse(body);
        } catch (error) {
          ctx.usage(`BODY is not JSON (${error.message}); --text sends it as a string`);
        }
      }
      const message = {
        body: parsed,
        ...(opts.attr ? { attributes: opts.attr } : {}),
        ...(opts.group ? { groupId: opts.group } : {}),
        ...(opts.dedupId ? { dedupId: opts.dedupId } : {}),
        ...(opts.delayMs !== undefined ? { delayMs: opts.delayMs } : {}),
      };
      const answer = await ctx.request("POST", `${topicPath(name)}/messages`, { body: message });
      if (ctx.json) return ctx.printJson(answer);
      const [sent] = answer.messages;
      ctx.print(sent.duplicate ? `duplicate of ${sent.id}: nothing published` : `published ${sent.id}`);
    });

  topics
    .command("stats")
    .argument("<topic>", "topic name")
    .description("published, filtered, pending and the lag of each subscription")
    .action(async (name, opts, cmd) => {
      const ctx = context(cmd);
      const s = await ctx.request("GET", `${topicPath(name)}/stats`);
      if (ctx.json) return ctx.printJson(s);
      ctx.print(
        table([
          ["published", s.published],
          ["duplicates", s.duplicates],
          ["filtered", s.filtered],
          ["pending", s.pending],
          ["oldest pending", duration(s.oldestPendingAgeMs)],
        ]),
      );
      const rows = s.subscriptions.map((x) => [x.queue, x.delivered, x.filtered, x.pending, duration(x.oldestPendingAgeMs), x.failures ?? 0]);
      if (rows.length > 0) ctx.print(table(rows, { head: ["queue", "delivered", "filtered", "pending", "lag", "failing"] }));
    });
}
