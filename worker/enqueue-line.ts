/**
 * Enqueues that meet in one worker isolate on their way to the same
 * partition share an RPC. An isolate keeps at most `LINE_IN_FLIGHT`
 * enqueue RPCs in flight to a partition; an enqueue that comes while they
 * are all out waits, and when one comes back, everything that waited goes
 * in the next RPC (`QueuePartition.enqueueAll`). There each batch is stored
 * or refused as it would be alone, in one commit group, and each request
 * gets its own outcome. A lone enqueue is sent at once: no timer, no added
 * latency. It is the partition's group commit moved one hop out: under
 * load, one RPC and one partition operation carry many requests.
 *
 * The RPC of a group is sent from the request context of its first
 * request (a Durable Object stub belongs to the request that made it):
 * when an RPC comes back, its sender hands the next group to that group's
 * first request and answers the others of its own group (workerd runs a
 * promise's continuations in the context that made it). Only callers that
 * keep their context alive with `waitUntil` join a line. A waiting request
 * also keeps a timer: workerd cancels a request that waits on nothing but
 * other requests' promises as hung, and the timer is its patience. Still
 * waiting after `LINE_PATIENCE_MS`, it sends alone; taken into a group
 * whose first request never sent it (its context ended), it sends the
 * group itself. A group is sent once.
 *
 * This needs workerd's `handle_cross_request_promise_resolution` (on by
 * default since the 2024-10-14 compatibility date): without it, a
 * continuation runs in the context that settled the promise, and I/O made
 * there dies with that request. Where it is off (a Worker deployed with
 * `no_handle_cross_request_promise_resolution`, or vitest's runner Worker,
 * which turns it off) there are no lines: each enqueue sends its own RPC.
 */
import type { EnqueueBatch, EnqueueOutcome } from "../durable-objects/partition/types";
import { partitionStub } from "./queues";

/** Enqueue RPCs an isolate keeps in flight to one partition; later enqueues wait and share the next (1 measured best at c8 and c32). */
export const LINE_IN_FLIGHT = 1;
/** At most this many messages in one shared RPC; a batch that alone has more goes alone. */
export const LINE_MAX_MESSAGES = 1_000;
/** At most this many UTF-16 units of message JSON in one shared RPC (RPC arguments are limited to 32 MiB). */
export const LINE_MAX_UNITS = 4 * 1024 * 1024;
/** How long a request waits for its turn before it sends alone (or sends a group whose first request is gone). */
export const LINE_PATIENCE_MS = 2_000;

interface Member {
  batch: EnqueueBatch;
  /** The group it was taken into; null while it waits in the line. */
  group: Group | null;
  /** Settles the request's outcome; called from whichever context sent its group. */
  answer: (outcome: EnqueueOutcome) => void;
  fail: (error: unknown) => void;
  /** Wakes the request, in its own context, to send the group it leads. */
  lead: () => void;
  timer?: number;
}

interface Group {
  members: Member[];
  sent: boolean;
  /** Holds one of the line's slots (false for a request that lost patience and sends alone). */
  lined: boolean;
}

interface Line {
  inFlight: number;
  waiting: Member[];
}

/** Whether this runtime runs a promise's continuations in the request context that made them. */
export const linesAllowed = (): boolean =>
  (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } }).Cloudflare?.compatibilityFlags
    ?.handle_cross_request_promise_resolution === true;

/** Lines by partition (`queue/index`), per Durable Object namespace (tests bind more than one). */
const lines = new WeakMap<object, Map<string, Line>>();

function lineOf(env: Env, queue: string, partition: number): Line {
  let byName = lines.get(env.QUEUE_PARTITION);
  if (!byName) lines.set(env.QUEUE_PARTITION, (byName = new Map()));
  const name = `${queue}/${partition}`;
  let line = byName.get(name);
  if (!line) byName.set(name, (line = { inFlight: 0, waiting: [] }));
  return line;
}

/**
 * Stores a batch in a partition as `QueuePartition.enqueue` does, sharing
 * the RPC with enqueues that wait for the same partition in this isolate.
 */
export function enqueueInLine(env: Env, queue: string, partition: number, batch: EnqueueBatch): Promise<EnqueueOutcome> {
  const line = lineOf(env, queue, partition);
  const send = (group: Group) => sendGroup(env, queue, partition, line, group);
  let me: Member;
  const outcome = new Promise<EnqueueOutcome>((answer, fail) => {
    me = { batch, group: null, answer, fail, lead: () => {} };
    if (line.inFlight < LINE_IN_FLIGHT) {
      line.inFlight++;
      return void send((me.group = { members: [me], sent: false, lined: true }));
    }
    line.waiting.push(me);
    void new Promise<void>((lead) => (me.lead = lead)).then(() => send(me.group!));
    const patience = () => {
      me.timer = setTimeout(() => {
        if (me.group === null) {
          line.waiting.splice(line.waiting.indexOf(me), 1);
          void send((me.group = { members: [me], sent: false, lined: false }));
        } else if (!me.group.sent) {
          void send(me.group);
        } else {
          patience(); // its RPC is out: wait on
        }
      }, LINE_PATIENCE_MS);
    };
    patience();
  });
  return outcome.finally(() => clearTimeout(me.timer ?? null));
}

/** Sends a group's RPC (once), answers its members, and hands the line's slot on when it came through the line. */
async function sendGroup(env: Env, queue: string, partition: number, line: Line, group: Group): Promise<void> {
  if (group.sent) return;
  group.sent = true;
  const { members } = group;
  let outcomes: EnqueueOutcome[];
  try {
    const stub = partitionStub(env, queue, partition);
    outcomes = members.length === 1 ? [await stub.enqueue(members[0].batch)] : await stub.enqueueAll(members.map((m) => m.batch));
  } catch (error) {
    if (group.lined) handOn(line);
    for (const m of members) m.fail(error);
    return;
  }
  if (group.lined) handOn(line);
  members.forEach((m, i) => m.answer(outcomes[i]));
}

/** One RPC came back: the next group, as much as fits, goes to its first request; with none waiting, the slot is free. */
function handOn(line: Line): void {
  if (line.waiting.length === 0) return void line.inFlight--;
  let messages = 0;
  let units = 0;
  let size = 0;
  for (const m of line.waiting) {
    if (size > 0 && (messages + m.batch.count > LINE_MAX_MESSAGES || units + m.batch.items.length > LINE_MAX_UNITS)) break;
    messages += m.batch.count;
    units += m.batch.items.length;
    size++;
  }
  const group: Group = { members: line.waiting.splice(0, size), sent: false, lined: true };
  for (const m of group.members) m.group = group;
  group.members[0].lead();
}
