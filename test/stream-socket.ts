/** A consume stream opened through the Worker (SELF), keeping every frame it gets, for tests inside workerd. */
import { SELF } from "cloudflare:test";
import type { ReceiptResult, ReceivedMessage, StreamServerFrame } from "../client/protocol";
import { ADMIN_TOKEN, BASE } from "./helpers";

export interface StreamOptions {
  partition?: number;
  prefetch?: number;
  visibilityTimeoutMs?: number;
  token?: string;
  headers?: Record<string, string>;
}

/** A test's view of one stream: its frames as they come, and ways to send and to wait. */
export interface TestStream {
  ws: WebSocket;
  frames: StreamServerFrame[];
  /** Answers to "ping" (the runtime's, not the partition's). */
  pongs: number;
  closed: { code: number; reason: string } | null;
  /** Every message pushed so far, in order. */
  messages(): ReceivedMessage[];
  send(frame: unknown): void;
  /** Sends a settle frame and resolves its results (or its error frame). */
  settle(type: "ack" | "nack" | "extend" | "release", receipts: string[], extra?: Record<string, unknown>): Promise<ReceiptResult[]>;
  /** Resolves once `check` holds over the frames, polling; fails after `timeoutMs`. */
  until(check: (t: TestStream) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

let nextId = 1_000_000;

/** Opens a stream on `queue`; fails the test unless the upgrade answers 101. */
export async function openStream(queue: string, o: StreamOptions = {}): Promise<TestStream> {
  const params = new URLSearchParams();
  if (o.partition !== undefined) params.set("partition", String(o.partition));
  if (o.prefetch !== undefined) params.set("prefetch", String(o.prefetch));
  if (o.visibilityTimeoutMs !== undefined) params.set("visibilityTimeoutMs", String(o.visibilityTimeoutMs));
  const res = await SELF.fetch(`${BASE}/v1/queues/${queue}/consume?${params}`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${o.token ?? ADMIN_TOKEN}`, ...o.headers },
  });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade answered ${res.status}: ${await res.text()}`);
  const ws = res.webSocket;
  ws.accept();
  const t: TestStream = {
    ws,
    frames: [],
    pongs: 0,
    closed: null,
    messages: () => t.frames.flatMap((f) => (f.type === "messages" ? f.messages : [])),
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    async settle(type, receipts, extra = {}) {
      const id = nextId++;
      const from = t.frames.length;
      t.send({ type, id, receipts, ...extra });
      let answer: StreamServerFrame | undefined;
      await t.until(() => (answer = t.frames.slice(from).find((f) => (f.type === "results" || f.type === "error") && f.id === id)) !== undefined);
      if (answer!.type === "error") throw new Error(`${type} refused: ${answer!.code} ${answer!.message}`);
      return (answer as { results: ReceiptResult[] }).results;
    },
    async until(check, timeoutMs = 5_000) {
      const end = Date.now() + timeoutMs;
      while (!check(t)) {
        if (Date.now() > end) throw new Error(`timed out; frames: ${JSON.stringify(t.frames).slice(0, 2000)}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    close: () => ws.close(1000, "done"),
  };
  ws.addEventListener("message", (event) => {
    if (event.data === "pong") t.pongs++;
    else t.frames.push(JSON.parse(event.data as string));
  });
  ws.addEventListener("close", (event) => {
    t.closed = { code: event.code, reason: event.reason };
  });
  return t;
}
