// The crash test's streaming consumers (issue 17 §4): processes of their own
// (bench/stream-consumer.mjs) that consume over streams, are told where the
// server is after each restart, and are SIGKILLed mid-batch. What they report
// goes into the crash test's records through `hooks`; this module checks the
// one thing only they can show: the messages a consumer held when it was
// killed reach another consumer within a second.
import { fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** How soon the messages of a killed consumer must be delivered again. */
export const REDELIVERY_MS = 1_000;

export class StreamConsumers {
  /**
   * `hooks.delivered(ids, at)`, `hooks.acked(ids, ok, at)`, `hooks.ackUnknown(ids)`: the crash test's
   * records, with times in ms since the epoch. The crash test tells `seen` of every delivery.
   */
  constructor({ count, queue, token, hooks, prefetch = 10, handleMs = [20, 200] }) {
    this.args = { queue, token, prefetch, handleMs };
    this.hooks = hooks;
    this.url = null;
    this.children = new Set();
    /** Per child: ids of ack frames it sent that have no answer yet (a kill leaves their fate unknown). */
    this.acking = new Map();
    /** Kills mid-batch: what the killed one held, and when. */
    this.kills = [];
    /** When each message was delivered, to anyone: reports of a kill and of a delivery after it may come in either order. */
    this.deliveredAt = new Map();
    for (let i = 0; i < count; i++) this.spawn();
  }

  spawn() {
    const child = fork(path.join(here, "stream-consumer.mjs"), [JSON.stringify(this.args)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const acking = new Set();
    this.acking.set(child, acking);
    this.children.add(child);
    child.on("message", (m) => this.heard(acking, m));
    child.on("exit", () => {
      this.children.delete(child);
      this.acking.delete(child);
      if (acking.size > 0) this.hooks.ackUnknown([...acking]);
    });
    if (this.url) child.send({ url: this.url });
    return child;
  }

  heard(acking, m) {
    if (m.event === "delivered") {
      this.hooks.delivered(m.ids, m.at);
    } else if (m.event === "ackSent") {
      for (const id of m.ids) acking.add(id);
    } else if (m.event === "dying") {
      this.kills.push({ held: m.held, at: m.at });
    } else if (m.event === "acked") {
      for (const id of m.ids) acking.delete(id);
      this.hooks.acked(m.ids, m.ok, m.at);
    } else if (m.event === "ackLost") {
      for (const id of m.ids) acking.delete(id);
      this.hooks.ackUnknown(m.ids);
    }
  }

  /** Messages delivered at `at` to any consumer (a stream, a receive). */
  seen(ids, at) {
    for (const id of ids) {
      const times = this.deliveredAt.get(id);
      if (times) times.push(at);
      else this.deliveredAt.set(id, [at]);
    }
  }

  /** Where the server is now (after a start or a restart). */
  serverAt(url) {
    this.url = url;
    for (const child of this.children) if (child.connected) child.send({ url });
  }

  /**
   * SIGKILLs a consumer mid-batch: it kills itself while it holds messages no ack was sent for (at once,
   * or as its next push comes), having reported them, since only it knows exactly what it holds. Another
   * takes its place. Answers whether it died within `waitMs` (else it is SIGKILLed all the same, holding
   * nothing known).
   */
  async killOne(waitMs = 3_000) {
    const child = [...this.children].find((c) => c.connected);
    if (!child) return false;
    const exited = new Promise((r) => child.once("exit", r));
    child.send("die");
    const died = await Promise.race([exited.then(() => true), sleep(waitMs).then(() => false)]);
    if (!died) child.kill("SIGKILL");
    this.spawn();
    return died;
  }

  /** Closes every consumer (their sockets close: what they held is ready again) and waits for them to exit. */
  async stop() {
    const exits = [...this.children].map((child) => new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r))));
    for (const child of this.children) if (child.connected) child.send("stop");
    const timer = setTimeout(() => this.children.forEach((c) => c.kill("SIGKILL")), 5_000);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /** What the kills showed: messages held, those delivered again and how soon, those late or never again (but dead letters). */
  summary(dead) {
    const delays = [];
    const late = [];
    let held = 0;
    for (const kill of this.kills) {
      for (const id of kill.held) {
        held += 1;
        // The first delivery after the kill (the one before it was to the killed consumer).
        const after = (this.deliveredAt.get(id) ?? []).filter((t) => t > kill.at);
        const again = after.length === 0 ? undefined : Math.min(...after) - kill.at;
        if (again !== undefined) delays.push(again);
        // A message that became a dead letter meanwhile is not delivered again.
        if (again === undefined ? !dead.has(id) : again > REDELIVERY_MS) late.push({ id, ms: again ?? null });
      }
    }
    delays.sort((a, b) => a - b);
    return { kills: this.kills.length, held, maxMs: delays.at(-1) ?? null, late };
  }
}
