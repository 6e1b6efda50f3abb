// A consumer in a process of its own, for the direct tests of consume streams (started by streams.mjs).
// argv[2]: JSON { mode: "raw", url, token, prefetch }: a bare stream that reports what it is pushed and
// never settles; or { mode: "client", client, base, token, queue, concurrency, holdMs }: the client's
// consume(), whose handler reports each message and takes holdMs; SIGTERM aborts it.
// Reports over IPC: { event: "welcome" | "messages" | "handled" | "done", ... }.
const args = JSON.parse(process.argv[2]);

if (args.mode === "raw") {
  const ws = new WebSocket(args.url, ["edgeq.v1", `bearer.${args.token}`]);
  ws.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "welcome") process.send({ event: "welcome" });
    if (frame.type === "messages") process.send({ event: "messages", messages: frame.messages });
  });
} else {
  const { createClient } = await import(args.client);
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.send({ event: "welcome" });
  await createClient({ url: args.base, token: args.token })
    .queue(args.queue)
    .consume(
      async (m) => {
        process.send({ event: "handled", message: m });
        await new Promise((r) => setTimeout(r, args.holdMs ?? 0));
      },
      { concurrency: args.concurrency ?? 1, signal: stop.signal, onError: (e) => process.send({ event: "error", error: String(e) }) },
    );
  process.send({ event: "done" });
  // Nothing is left to keep the process alive: it exits on its own once consume() has closed everything.
  process.disconnect();
}
