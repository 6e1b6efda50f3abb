// `edgeq tokens mint`: scoped tokens from POST /v1/tokens (admin token only).
import { list, seconds } from "../options.mjs";

/** Adds `tokens` and its subcommands. */
export function addTokens(program, context) {
  const tokens = program.command("tokens").description("mint scoped tokens (needs the admin token)");

  tokens
    .command("mint")
    .description("mint a token for some scopes on some queues and topics; prints the token alone (its expiry on stderr)")
    .requiredOption("--scopes <list>", "publish, consume and/or manage, comma-separated", list)
    .option("--queues <list>", "queue names or prefixes ending in * (orders-*; * alone: every queue), comma-separated", list)
    .option("--topics <list>", "topic names or prefixes ending in *, comma-separated", list)
    .option("--ttl <seconds>", "lifetime: seconds, or 90s, 5m, 1h, 30d (1 s to 30 days)", seconds, 3600)
    .addHelpText(
      "after",
      "\nExamples:\n  edgeq tokens mint --scopes publish --queues signups --ttl 5m\n  edgeq tokens mint --scopes publish --topics orders\n  EDGEQ_TOKEN=$(edgeq tokens mint --scopes consume,manage --queues 'orders-*') edgeq stats orders-eu",
    )
    .action(async (opts, cmd) => {
      const ctx = context(cmd);
      if (!opts.queues && !opts.topics) ctx.usage("name some --queues or --topics");
      const answer = await ctx.request("POST", "/v1/tokens", {
        body: { scopes: opts.scopes, ...(opts.queues ? { queues: opts.queues } : {}), ...(opts.topics ? { topics: opts.topics } : {}), expiresInSeconds: opts.ttl },
      });
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(answer.token);
      ctx.note(`expires ${new Date(answer.expiresAt).toISOString()}`);
    });
}
