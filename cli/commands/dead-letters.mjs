// `edgeq dlq list | redrive | delete`: a queue's dead letters (manage scope).
import { brief, fromNow, table } from "../format.mjs";
import { integer } from "../options.mjs";

/** Adds `dlq` and its subcommands. */
export function addDeadLetters(program, context) {
  const dlq = program.command("dlq").description("list, redrive and delete a queue's dead letters");

  dlq
    .command("list")
    .argument("<queue>", "queue name")
    .description("dead letters with their reason, attempts and last error")
    .option("--limit <n>", "dead letters in this page, 1..100", integer(1), 100)
    .option("--cursor <cursor>", "go on from here (the cursor of the previous page)")
    .addHelpText("after", "\nExample:\n  edgeq dlq list orders --limit 20")
    .action(async (queue, opts, cmd) => {
      const ctx = context(cmd);
      const page = await ctx.request("GET", `${ctx.queuePath(queue)}/dead-letters`, { query: { limit: opts.limit, cursor: opts.cursor } });
      if (ctx.json) return ctx.printJson(page);
      const now = Date.now();
      const rows = page.deadLetters.map((d) => [d.id, d.reason, d.attempts, d.lastError ?? "", fromNow(d.deadLetteredAt, now), brief(d.body, 40)]);
      ctx.print(rows.length === 0 ? "no dead letters" : table(rows, { head: ["id", "reason", "attempts", "last error", "dead-lettered", "body"] }));
      if (page.cursor) ctx.note(`more: edgeq dlq list ${queue} --cursor ${page.cursor}`);
    });

  dlq
    .command("redrive")
    .argument("<queue>", "queue name")
    .argument("[ids...]", "dead letters to redrive (default all)")
    .description("put dead letters back at the end of the queue, ready at once, with attempts 0")
    .addHelpText(
      "after",
      "\nUnder a maxDepth only as many as there is room for move, oldest first;\n`remaining` counts the rest.\n\nExamples:\n  edgeq dlq redrive orders\n  edgeq dlq redrive orders 6f1c0e2a-...",
    )
    .action(async (queue, ids, opts, cmd) => {
      const ctx = context(cmd);
      const answer = await ctx.request("POST", `${ctx.queuePath(queue)}/dead-letters/redrive`, { body: ids.length > 0 ? { ids } : {} });
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(`redrove ${answer.redriven} dead letter${answer.redriven === 1 ? "" : "s"} of ${queue}; ${answer.remaining} remaining`);
    });

  dlq
    .command("delete")
    .argument("<queue>", "queue name")
    .argument("[ids...]", "dead letters to delete")
    .option("--all", "delete every dead letter of the queue")
    .description("delete dead letters for good: the ones named, or --all")
    .addHelpText("after", "\nExamples:\n  edgeq dlq delete orders 6f1c0e2a-...\n  edgeq dlq delete orders --all")
    .action(async (queue, ids, opts, cmd) => {
      const ctx = context(cmd);
      if (ids.length === 0 && !opts.all) ctx.usage("name the dead letters to delete, or give --all");
      if (ids.length > 0 && opts.all) ctx.usage("give ids or --all, not both");
      const path = `${ctx.queuePath(queue)}/dead-letters`;
      let deleted = 0;
      for (const id of opts.all ? [undefined] : ids) deleted += (await ctx.request("DELETE", path, { query: { id } })).deleted;
      if (ctx.json) return ctx.printJson({ deleted });
      ctx.print(`deleted ${deleted} dead letter${deleted === 1 ? "" : "s"} of ${queue}`);
    });
}
