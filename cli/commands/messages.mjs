// `edgeq send | receive | ack | nack | peek`: the messages of a queue.
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import cliProgress from "cli-progress";
import { ApiError } from "../http.mjs";
import { brief, fromNow, messageLine, table } from "../format.mjs";
import { attribute, integer } from "../options.mjs";

/** Messages in one enqueue request, receipts in one ack or nack: the server's LIMITS.maxBatch. */
export const BATCH = 100;

/** All of stdin as text. */
async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** The body of a message from text: JSON, or with `--text` the text itself. Throws a usage error naming `where`. */
function parseBody(ctx, text, asText, where) {
  if (asText) return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    ctx.usage(`${where} is not JSON (${error.message}); --text sends it as a string`);
  }
}

/** Acks or nacks `receipts` in requests of BATCH; answers every result, in order. */
export async function settle(ctx, queue, verb, receipts, extra = {}) {
  const results = [];
  for (let i = 0; i < receipts.length; i += BATCH) {
    const answer = await ctx.request("POST", `${ctx.queuePath(queue)}/messages/${verb}`, {
      body: { receipts: receipts.slice(i, i + BATCH), ...extra },
    });
    results.push(...answer.results);
  }
  return results;
}

/** Exit 1 when edgeq refused any receipt (a lease that ended, a message that is gone), naming each on stderr. */
function refuseOnFailure(ctx, verb, results) {
  const refused = results.filter((r) => !r.ok);
  for (const r of refused) ctx.note(`edgeq: ${verb} ${r.receipt}: ${r.code}`);
  if (refused.length > 0) throw new ApiError(refused[0].code, `${verb}: ${refused.length} of ${results.length} receipts refused`, 409);
}

/**
 * Sends `messages` (an async iterable of [line number, text]) in batches of
 * BATCH, each message `template` plus its body. A progress bar on a
 * terminal; --json prints each batch's answer as a JSON line.
 */
async function sendBatches(ctx, queue, messages, { template, asText, total }) {
  const bar =
    process.stdout.isTTY && !ctx.json
      ? new cliProgress.SingleBar(
          {
            stream: process.stdout,
            format: total === undefined ? "sent {value} messages | {duration_formatted}" : "{bar} {value}/{total} messages | {duration_formatted}",
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(total ?? 0, 0);
  let sent = 0;
  let batches = 0;
  let duplicates = 0;
  let batch = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const answer = await ctx.request("POST", `${ctx.queuePath(queue)}/messages`, { body: { messages: batch } });
    batches += 1;
    sent += batch.length;
    duplicates += answer.messages.filter((m) => m.duplicate).length;
    batch = [];
    if (ctx.json) ctx.printJson(answer);
    bar?.update(sent);
  };
  try {
    for await (const [line, text] of messages) {
      if (text.trim() === "") continue;
      batch.push({ ...template, body: parseBody(ctx, text, asText, `line ${line}`) });
      if (batch.length === BATCH) await flush();
    }
    await flush();
  } catch (error) {
    bar?.stop();
    if (sent > 0) ctx.note(`edgeq: ${sent} message${sent === 1 ? " was" : "s were"} sent (${batches} batch${batches === 1 ? "" : "es"}) before this`);
    throw error;
  }
  bar?.stop();
  if (!ctx.json) {
    const dup = duplicates > 0 ? `, ${duplicates} of them duplicates` : "";
    ctx.print(`sent ${sent} message${sent === 1 ? "" : "s"} to ${queue} in ${batches} batch${batches === 1 ? "" : "es"}${dup}`);
  }
}

/** Adds `send`, `receive`, `ack`, `nack` and `peek`. */
export function addMessages(program, context) {
  program
    .command("send")
    .argument("<queue>", "queue name")
    .argument("[body]", "the message body as JSON; without it, read from stdin")
    .description("enqueue one message, or JSON lines (one message per line) in batches of 100")
    .option("-f, --file <path>", "send each line of this file (JSON lines) as a message")
    .option("--lines", "send each line of stdin (JSON lines) as a message")
    .option("--text", "the body (or each line) is a string, not JSON")
    .option("--delay-ms <ms>", "milliseconds before the message can be received", integer(0))
    .option("--group <id>", "message group: delivered in order, one at a time")
    .option("--key <key>", "partition key: messages with one key go to one partition")
    .option("--dedup-id <id>", "a second send with this id within the dedup window stores nothing (one message only)")
    .option("--attr <name=value>", "an attribute; repeat for more", attribute)
    .addHelpText(
      "after",
      `
Examples:
  edgeq send orders '{"order": 42}' --attr kind=paid --dedup-id order-42
  echo '{"order": 43}' | edgeq send orders
  edgeq send orders --file orders.jsonl --group customer-7
  producer | edgeq send orders --lines`,
    )
    .action(async (queue, body, opts, cmd) => {
      const ctx = context(cmd);
      const template = {
        ...(opts.delayMs !== undefined ? { delayMs: opts.delayMs } : {}),
        ...(opts.attr ? { attributes: opts.attr } : {}),
        ...(opts.group ? { groupId: opts.group } : {}),
        ...(opts.key ? { key: opts.key } : {}),
      };
      if (opts.file || opts.lines) {
        if (body !== undefined) ctx.usage("a BODY argument cannot be combined with --file or --lines");
        if (opts.dedupId) ctx.usage("--dedup-id names one message: it cannot be used with --file or --lines");
        if (opts.file) {
          // A file is read and checked whole first: a bad line sends nothing.
          const text = await readFile(opts.file, "utf8").catch((error) => ctx.usage(`--file ${opts.file}: ${error.message}`));
          const lines = text.split(/\r?\n/).map((t, i) => [i + 1, t]);
          const parsed = lines.filter(([, t]) => t.trim() !== "").map(([n, t]) => [n, t, parseBody(ctx, t, opts.text, `line ${n}`)]);
          async function* checked() {
            for (const [n, t] of parsed) yield [n, t];
          }
          return sendBatches(ctx, queue, checked(), { template, asText: opts.text, total: parsed.length });
        }
        // Stdin is sent as it comes (it may not end): a bad line stops there.
        const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
        async function* numbered() {
          let n = 0;
          for await (const line of input) yield [++n, line];
        }
        return sendBatches(ctx, queue, numbered(), { template, asText: opts.text });
      }
      let text = body;
      if (text === undefined) {
        if (process.stdin.isTTY) ctx.usage("give the BODY, or pipe it on stdin");
        text = (await readStdin()).replace(/\r?\n$/, "");
      }
      const message = { ...template, body: parseBody(ctx, text, opts.text, "BODY"), ...(opts.dedupId ? { dedupId: opts.dedupId } : {}) };
      const answer = await ctx.request("POST", `${ctx.queuePath(queue)}/messages`, { body: message });
      if (ctx.json) return ctx.printJson(answer);
      const [sent] = answer.messages;
      ctx.print(sent.duplicate ? `duplicate of ${sent.id} (seq ${sent.seq}): nothing stored` : `sent ${sent.id} (seq ${sent.seq})`);
    });

  program
    .command("receive")
    .argument("<queue>", "queue name")
    .description("lease messages and print them with their receipts (ack or nack them with the receipt)")
    .option("--max <n>", "messages to lease, 1..100", integer(1), 1)
    .option("--wait-ms <ms>", "wait up to this long for a message when none is ready, 0..20000", integer(0), 0)
    .option("--visibility-timeout-ms <ms>", "lease length (default the queue's)", integer(0))
    .option("--ack", "ack what was received at once: the messages are done and deleted")
    .addHelpText(
      "after",
      `
Without --ack the messages stay leased until their lease ends, then count a
failed attempt and are retried (or become dead letters after maxAttempts).

Examples:
  edgeq receive orders --max 10 --wait-ms 20000
  edgeq receive orders --ack --json | jq '.messages[].body'`,
    )
    .action(async (queue, opts, cmd) => {
      const ctx = context(cmd);
      const answer = await ctx.request("POST", `${ctx.queuePath(queue)}/messages/receive`, {
        body: { max: opts.max, waitMs: opts.waitMs, ...(opts.visibilityTimeoutMs !== undefined ? { visibilityTimeoutMs: opts.visibilityTimeoutMs } : {}) },
      });
      if (ctx.json) ctx.printJson(answer);
      else if (answer.messages.length === 0) ctx.note("no message ready");
      else for (const m of answer.messages) ctx.print(messageLine(m));
      if (opts.ack && answer.messages.length > 0) {
        refuseOnFailure(ctx, "ack", await settle(ctx, queue, "ack", answer.messages.map((m) => m.receipt)));
      }
    });

  program
    .command("ack")
    .argument("<queue>", "queue name")
    .argument("<receipts...>", "receipts from receive")
    .description("acknowledge messages: they are done and deleted (exit 1 if any receipt is refused)")
    .addHelpText("after", "\nExample:\n  edgeq ack orders 0.17.kq3vT9x0cQ4mZbLw")
    .action(async (queue, receipts, opts, cmd) => {
      const ctx = context(cmd);
      const results = await settle(ctx, queue, "ack", receipts);
      if (ctx.json) ctx.printJson({ results });
      else for (const r of results.filter((r) => r.ok)) ctx.print(`acked ${r.receipt}`);
      refuseOnFailure(ctx, "ack", results);
    });

  program
    .command("nack")
    .argument("<queue>", "queue name")
    .argument("<receipts...>", "receipts from receive")
    .description("give messages back for a retry (exit 1 if any receipt is refused)")
    .option("--delay-ms <ms>", "retry after this long (default the queue's backoff)", integer(0))
    .option("--error <text>", "kept as the message's last error")
    .addHelpText("after", '\nExample:\n  edgeq nack orders 0.17.kq3vT9x0cQ4mZbLw --delay-ms 0 --error "payment service down"')
    .action(async (queue, receipts, opts, cmd) => {
      const ctx = context(cmd);
      const extra = { ...(opts.delayMs !== undefined ? { delayMs: opts.delayMs } : {}), ...(opts.error !== undefined ? { error: opts.error } : {}) };
      const results = await settle(ctx, queue, "nack", receipts, extra);
      if (ctx.json) ctx.printJson({ results });
      else for (const r of results.filter((r) => r.ok)) ctx.print(`nacked ${r.receipt}`);
      refuseOnFailure(ctx, "nack", results);
    });

  program
    .command("peek")
    .argument("<queue>", "queue name")
    .description("look at stored messages with their state, in delivery order, leasing nothing")
    .option("--limit <n>", "messages in this page, 1..100", integer(1), 100)
    .option("--cursor <cursor>", "go on from here (the cursor of the previous page)")
    .addHelpText("after", "\nExamples:\n  edgeq peek orders --limit 10\n  edgeq peek orders --json | jq '.messages[] | select(.state == \"delayed\")'")
    .action(async (queue, opts, cmd) => {
      const ctx = context(cmd);
      const page = await ctx.request("GET", `${ctx.queuePath(queue)}/messages`, { query: { limit: opts.limit, cursor: opts.cursor } });
      if (ctx.json) return ctx.printJson(page);
      const now = Date.now();
      const when = (m) => (m.state === "ready" ? `enqueued ${fromNow(m.enqueuedAt, now)}` : `${m.state === "delayed" ? "ready" : "lease ends"} ${fromNow(m.visibleAt, now)}`);
      const rows = page.messages.map((m) => [m.seq, m.partition, m.state, m.attempts, m.id, when(m), brief(m.body)]);
      ctx.print(rows.length === 0 ? "no messages" : table(rows, { head: ["seq", "partition", "state", "attempts", "id", "when", "body"] }));
      if (page.cursor) ctx.note(`more: edgeq peek ${queue} --cursor ${page.cursor}`);
    });
}
