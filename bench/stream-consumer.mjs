// A streaming consumer in a process of its own, for the crash test (bench/crash-streams.mjs):
// it speaks the consume protocol by hand (docs/consume-protocol.md) over Node 22's WebSocket,
// "handles" each push for a while, acks it, and reports everything to its parent over IPC.
// It is SIGKILLed mid-batch and the runtime under it is SIGKILLed too: it reconnects to the URL its
// parent last sent, with backoff.
//   argv[2]: JSON { queue, token, prefetch, handleMs: [min, max] }
//   from the parent: { url } (where the server is now), "die" (SIGKILL itself mid-batch: at once if it
//   holds messages no ack was sent for, else as the next push comes), "stop" (close and exit)
//   to the parent: { event: "delivered", ids, at } | { event: "ackSent", ids } | { event: "acked", ids, ok, at }
//   | { event: "ackLost", ids } | { event: "dying", held, at } (what it held, reported before the kill)
//   (`at`: ms since the epoch, performance.timeOrigin + performance.now(), as the parent measures)
const { queue, token, prefetch, handleMs } = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
const report = (m) => process.connected && process.send(m);

let url = null;
let ws = null;
let stopping = false;
let failures = 0;
let nextId = 0;
let retry = null;
/** Delivered, and no ack sent for them yet: what a kill leaves behind. */
const held = new Set();
let dying = false;

/** Reports what it holds, then SIGKILLs itself once the report is on its way: the socket dies with no close frame. */
function die() {
  process.send({ event: "dying", held: [...held], at: now() }, () => process.kill(process.pid, "SIGKILL"));
}

function connect() {
  clearTimeout(retry);
  retry = null;
  if (stopping || url === null || ws !== null) return;
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/v1/queues/${queue}/consume?prefetch=${prefetch}`, ["edgeq.v1", `bearer.${token}`]);
  ws = socket;
  const acks = new Map(); // frame id -> the ids it acks
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "welcome") failures = 0;
    if (frame.type === "messages") {
      const at = now();
      const ids = frame.messages.map((m) => m.body.id);
      report({ event: "delivered", ids, at });
      for (const id of ids) held.add(id);
      if (dying) return die();
      const wait = handleMs[0] + Math.random() * (handleMs[1] - handleMs[0]);
      setTimeout(() => {
        if (socket.readyState !== WebSocket.OPEN) return; // gone with the socket: the partition gave them back
        const id = ++nextId;
        acks.set(id, ids);
        report({ event: "ackSent", ids });
        for (const id of ids) held.delete(id);
        socket.send(JSON.stringify({ type: "ack", id, receipts: frame.messages.map((m) => m.receipt) }));
      }, wait);
    }
    if (frame.type === "results") {
      const ids = acks.get(frame.id);
      acks.delete(frame.id);
      report({ event: "acked", ids, ok: frame.results.map((r) => r.ok), at: now() });
    }
  });
  const closed = () => {
    if (ws !== socket) return;
    ws = null;
    // Acks sent and not answered: unknown whether they landed. What it held went back with the socket.
    for (const ids of acks.values()) report({ event: "ackLost", ids });
    acks.clear();
    held.clear();
    retry = setTimeout(connect, Math.min(2_000, 50 * 2 ** failures++));
  };
  socket.addEventListener("close", closed);
  socket.addEventListener("error", closed);
}

process.on("message", (m) => {
  if (m === "die") {
    dying = true;
    if (held.size > 0) die();
    return;
  }
  if (m === "stop") {
    stopping = true;
    ws?.close(1000, "stop");
    setTimeout(() => process.exit(0), 200);
    return;
  }
  if (m?.url) {
    url = m.url;
    connect();
  }
});
process.on("disconnect", () => process.exit(0));
