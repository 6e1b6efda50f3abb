// `edgeq tokens mint`: scoped tokens from POST /v1/tokens (admin token only).
import { list, seconds } from "../options.mjs";

/** Adds `tokens` and its subcommands. */
export function addTokens(program, context) {
  const tokens = program.command("tokens").description("mint scoped tokens (needs the admin token)");

  tokens
    .command("mint")
    .description("mint a token for some scopes on some queues; prints the token alone (its expiry on stderr)")
    .requiredOption("--scopes <list>", "publish, consume and/or manage, comma-separated", list)
    .requiredOption("--queues <list>", "queue names or prefixes ending in * (orders-*; * alone: every queue), comma-separated", list)
    .option("--ttl <seconds>", "lifetime: seconds, or 90s, 5m, 1h, 30d (1 s to 30 days)", seconds, 3600)
    .addHelpText(
      "after",
      "\nExamples:\n  edgeq tokens mint --scopes publish --queues signups --ttl 5m\n  EDGEQ_TOKEN=$(edgeq tokens mint --scopes consume,manage --queues 'orders-*') edgeq stats orders-eu",
    )
    .action(async (opts, cmd) => {
      const ctx = context(cmd);
      const answer = await ctx.request("POST", "/v1/tokens", {
        body: { scopes: opts.scopes, queues: opts.queues, expiresInSeconds: opts.ttl },
      });
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(answer.token);
      ctx.note(`expires ${new Date(answer.expiresAt).toISOString()}`);
    });
}
