// `edgeq tail QUEUE`: consume and print messages as they arrive.
//
// With --ack each printed message is acked with the next receive (one
// request per batch). Without it tail holds the lease of every message it
// printed, renewing it at half its length, so that it shows each message
// once and no other consumer gets it meanwhile; when tail stops it gives
// them all back with a nack of delay 0: ready again at once, in their place.
// The nack counts a delivery attempt (edgeq has no route that ends a lease
// without one), so a message on its last attempt becomes a dead letter.
// A nack straight after printing would not do: the message, ready again at
// once with its place in line, would be the next one tail receives.
//
// Ctrl-C does not abort the receive under way: it ends after its short
// wait, and what it brings is printed and settled like the rest. A receive
// cut off mid-wait leaves its waiter at the partition until the wait is
// over (plain workerd sees no disconnect of a pending response), and a
// message pushed to that waiter (the released ones first of all) would stay
// leased to nobody until its lease ended.
import { messageLine } from "../format.mjs";
import { isTransient } from "../http.mjs";
import { integer } from "../options.mjs";
import { sleep, stopOnSignal } from "../stop.mjs";
import { BATCH, settle } from "./messages.mjs";

/** Adds `tail`. */
export function addTail(program, context) {
  program
    .command("tail")
    .argument("<queue>", "queue name")
    .description("consume and print messages as they arrive, until Ctrl-C (exit 0)")
    .option("--ack", "ack each printed message: tail drains the queue")
    .option("--max <n>", "messages leased per receive, 1..100", integer(1), 10)
    .option("--count <n>", "stop after this many messages", integer(1))
    .option("--visibility-timeout-ms <ms>", "lease of each message, renewed at half its length while held", integer(1000), 30_000)
    .option("--max-held <n>", "without --ack: stop receiving while this many messages are held", integer(1), 1000)
    .option("--wait-ms <ms>", "long-poll wait of each receive, 0..20000: how long Ctrl-C may take", integer(0), 2000)
    .addHelpText(
      "after",
      `
Without --ack, tail keeps the messages it printed leased (renewing the
leases) and gives them back when it stops, with a nack of delay 0: they are
ready again at once, each having used one delivery attempt (one on its last
attempt becomes a dead letter). Ctrl-C lets the receive under way end (at
most --wait-ms), settles and exits 0; a second Ctrl-C quits at once (130).
--json prints one message per line.

Examples:
  edgeq tail orders
  edgeq tail orders --ack --json > drained.jsonl
  edgeq tail orders --count 5`,
    )
    .action(async (queue, opts, cmd) => {
      const ctx = context(cmd);
      const stop = stopOnSignal();
      const held = new Map(); // receipt -> message: leased, to give back when tail stops
      let toAck = []; // printed, to be acked with the next receive, with --ack
      let resent = false; // toAck rode on a receive that failed: it may have been acked already
      let printed = 0;
      let failures = 0;

      const renew = async () => {
        const receipts = [...held.keys()];
        for (let i = 0; i < receipts.length; i += BATCH) {
          const answer = await ctx.request("POST", `${ctx.queuePath(queue)}/messages/extend`, {
            body: { receipts: receipts.slice(i, i + BATCH), visibilityTimeoutMs: opts.visibilityTimeoutMs },
          });
          for (const r of answer.results) if (!r.ok) held.delete(r.receipt);
        }
      };
      const renewer = opts.ack
        ? undefined
        : setInterval(() => renew().catch((error) => ctx.note(`edgeq: renewing leases: ${error.code ?? "NETWORK"}: ${error.message}`)), opts.visibilityTimeoutMs / 2);

      let failed;
      try {
        while (!stop.signal.aborted && (opts.count === undefined || printed < opts.count)) {
          const room = Math.min(opts.max, (opts.count ?? Infinity) - printed, opts.ack ? Infinity : opts.maxHeld - held.size);
          if (room <= 0) {
            // Holding as many as allowed: wait for Ctrl-C, renewing.
            await sleep(60_000, stop.signal);
            continue;
          }
          const started = Date.now();
          let answer;
          try {
            answer = await ctx.request("POST", `${ctx.queuePath(queue)}/messages/receive`, {
              body: { max: room, waitMs: opts.waitMs, visibilityTimeoutMs: opts.visibilityTimeoutMs, ...(toAck.length ? { ack: toAck } : {}) },
            });
          } catch (error) {
            if (!isTransient(error) || stop.signal.aborted) throw error;
            resent ||= toAck.length > 0;
            ctx.note(`edgeq: receive failed, retrying: ${error.code ?? "NETWORK"}: ${error.message}`);
            await sleep(Math.min(30_000, 500 * 2 ** failures++) * (0.5 + Math.random() / 2), stop.signal);
            continue;
          }
          failures = 0;
          for (const r of answer.ackResults ?? []) if (!r.ok && !(resent && r.code === "NOT_FOUND")) ctx.note(`edgeq: ack ${r.receipt}: ${r.code}`);
          toAck = [];
          resent = false;
          for (const m of answer.messages) {
            // Once stdout is closed (`| head`), what could not be printed is released, never acked.
            if (!process.stdout.errored) {
              if (ctx.json) ctx.printJson(m);
              else ctx.print(messageLine(m));
            }
            printed += 1;
            if (opts.ack && !process.stdout.errored) toAck.push(m.receipt);
            else held.set(m.receipt, m);
          }
          // Empty before the wait was over (a paused queue, --wait-ms 0): pause rather than spin.
          if (answer.messages.length === 0 && (opts.waitMs === 0 || Date.now() - started < opts.waitMs / 2)) await sleep(1000, stop.signal);
        }
      } catch (error) {
        failed = error;
      }
      clearInterval(renewer);
      stop.release();
      const unsettled = await settleHeld(ctx, queue, toAck, resent, held);
      if (failed ?? unsettled) throw failed ?? unsettled;
    });
}

/** On the way out: acks what was printed and not yet acked, gives back what is held. Answers the first failure, if any. */
async function settleHeld(ctx, queue, toAck, resent, held) {
  let failure;
  if (toAck.length > 0) {
    const results = await settle(ctx, queue, "ack", toAck).catch((error) => ((failure = error), []));
    for (const r of results) if (!r.ok && !(resent && r.code === "NOT_FOUND")) ctx.note(`edgeq: ack ${r.receipt}: ${r.code}`);
  }
  if (held.size > 0) {
    const results = await settle(ctx, queue, "nack", [...held.keys()], { delayMs: 0 }).catch((error) => ((failure ??= error), []));
    const released = results.filter((r) => r.ok).length;
    if (!ctx.json) ctx.note(`released ${released} held message${released === 1 ? "" : "s"} (nack, delay 0)`);
  }
  return failure;
}
