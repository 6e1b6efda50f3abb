/**
 * Enqueues that meet in one worker isolate on their way to the same
 * partition share an RPC. An isolate keeps one enqueue RPC in flight to a
 * partition (its line's flight); an enqueue that comes meanwhile waits, and
 * when the flight lands, everything that waited goes in the next RPC
 * (`QueuePartition.enqueueAll`). There each batch is stored or refused as
 * it would be alone, in one commit group, and each request gets its own
 * outcome. A lone enqueue is sent at once: no timer, no added latency. It is
 * the partition's group commit moved one hop out: under load, one RPC and
 * one partition operation carry many requests.
 *
 * Requests only ever wait on a flight, a promise made by the request that
 * sent it; workerd wakes each waiter in its own request context, as it does
 * any request that awaits another's promise, and whoever wakes first to a
 * landed flight sends the next one, from its own context (a Durable Object
 * stub's I/O belongs to the request that makes it). No request resolves a
 * promise of another, so nothing depends on how the runtime treats that
 * (`handle_cross_request_promise_resolution`, which vitest's runner turns
 * off). The sender of a flight is itself one of its members and keeps its
 * context alive with `waitUntil` until the flight lands, so a producer that
 * leaves does not take its flight down with it. A flight that has not
 * landed after `LINE_PATIENCE_MS` is given up by those still waiting: the
 * line starts a new one without it (its own members wait on).
 *
 * A request that finds its line idle sends at once, unless another enqueue
 * request to the same queue is on its way in this isolate (its body still
 * being read and checked; `headFor`). Then it gathers: it waits one turn of
 * the event loop (a timer of 0, about a millisecond in workerd) for that
 * one to join, and sends what has gathered. Under load, answers leave a
 * partition's flight together and their producers' next requests come back
 * together: without the turn, the first of them to reach the line went
 * alone and the rest waited a whole flight for the next, so half the
 * flights carried one message. A lone request, with no other on its way,
 * never waits. Requests that come while one gathers wait turns of their own
 * (a timer in their own context) until it has sent.
 *
 * `landsWithin` clears a waiter's timer in `finally` of a promise the waiter
 * made, not in a callback on the flight: such a callback may run in the
 * sender's context (likely clearing nothing of the waiter's), and a version
 * that cleared the timer there had workerd cancel enqueues as hung under
 * mixed load (`npm run bench:stress`: 29 to 84 in 75 s; none with this one).
 */
import type { EnqueueBatch, EnqueueOutcome } from "../durable-objects/partition/types";
import { partitionStub } from "./queues";

/** At most this many messages in one shared RPC; a batch that alone has more goes alone. */
export const LINE_MAX_MESSAGES = 1_000;
/** At most this many UTF-16 units of message JSON in one shared RPC (RPC arguments are limited to 32 MiB). */
export const LINE_MAX_UNITS = 4 * 1024 * 1024;
/** A request gathering its line's next RPC holds the line at most this long (it waits one turn, about 1 ms). */
const GATHER_MAX_MS = 50;
/** How long requests wait on a flight before the line gives it up and sends without it. */
export const LINE_PATIENCE_MS = 2_000;

interface Member {
  batch: EnqueueBatch;
  /** The flight that carries its batch; null while it waits in the line. */
  flight: Promise<void> | null;
  outcome?: EnqueueOutcome;
  error?: unknown;
}

interface Line {
  /** The RPC in flight, settled (never rejected) once its members' outcomes are set. */
  flight: Promise<void> | null;
  waiting: Member[];
  /** Until when a request that found the line idle gathers the next RPC (0: nobody does); see `enqueueInLine`. */
  gatheringUntil: number;
  /** Forgets this line. */
  drop: () => void;
}

/**
 * Lines by partition (`queue/index`), per Durable Object namespace (tests
 * bind more than one). A line is dropped when its last flight lands with
 * nobody waiting, so an isolate holds lines only for partitions it is
 * enqueueing to.
 */
const lines = new WeakMap<object, Map<string, Line>>();

function lineOf(env: Env, queue: string, partition: number): Line {
  let byName = lines.get(env.QUEUE_PARTITION);
  if (!byName) lines.set(env.QUEUE_PARTITION, (byName = new Map()));
  const name = `${queue}/${partition}`;
  let line = byName.get(name);
  if (!line) {
    const own = byName;
    line = { flight: null, waiting: [], gatheringUntil: 0, drop: () => own.get(name) === line && own.delete(name) };
    byName.set(name, line);
  }
  return line;
}

/** How many lines this isolate holds for the namespace of `env` (for tests). */
export const linesHeld = (env: Env): number => lines.get(env.QUEUE_PARTITION)?.size ?? 0;

/** Enqueue requests of this isolate on their way to one of a queue's lines, by queue. */
const heading = new Map<string, number>();

/**
 * Counts an enqueue request to `queue` as on its way to a line (an HTTP
 * enqueue, from when its route is matched); call the function returned when
 * it reaches the line or leaves without (more calls do nothing).
 */
export function headFor(queue: string): () => void {
  heading.set(queue, (heading.get(queue) ?? 0) + 1);
  let arrived = false;
  return () => {
    if (arrived) return;
    arrived = true;
    const left = heading.get(queue)! - 1;
    if (left === 0) heading.delete(queue);
    else heading.set(queue, left);
  };
}

/** How many enqueue requests to `queue` are on their way to a line (for tests). */
export const headingFor = (queue: string): number => heading.get(queue) ?? 0;

/**
 * Stores a batch in a partition as `QueuePartition.enqueue` does, sharing
 * the RPC with enqueues that wait for the same partition in this isolate.
 */
export async function enqueueInLine(env: Env, queue: string, partition: number, batch: EnqueueBatch): Promise<EnqueueOutcome> {
  const line = lineOf(env, queue, partition);
  const me: Member = { batch, flight: null };
  line.waiting.push(me);
  let gathered = false;
  while (me.flight === null) {
    const flight = line.flight;
    if (flight !== null) {
      if (!(await landsWithin(flight, LINE_PATIENCE_MS)) && line.flight === flight) {
        line.flight = null; // given up: the next turn of some waiter sends a new flight
      }
    } else if (Date.now() < line.gatheringUntil) {
      await nextTurn(); // another request is gathering the line's next RPC: a turn of its own, then look again
    } else if (!gathered && line.waiting.length === 1 && headingFor(queue) > 0) {
      // Alone at an idle line with another request on its way: one turn for it to join.
      gathered = true;
      line.gatheringUntil = Date.now() + GATHER_MAX_MS;
      await nextTurn();
      line.gatheringUntil = 0;
    } else {
      send(env, queue, partition, line);
    }
  }
  await me.flight;
  if (me.error !== undefined) throw me.error;
  return me.outcome!;
}

/** Takes the next group from the line (as much as fits, oldest first) and sends it as the line's flight. */
function send(env: Env, queue: string, partition: number, line: Line): void {
  let messages = 0;
  let units = 0;
  let size = 0;
  for (const m of line.waiting) {
    if (size > 0 && (messages + m.batch.count > LINE_MAX_MESSAGES || units + m.batch.items.length > LINE_MAX_UNITS)) break;
    messages += m.batch.count;
    units += m.batch.items.length;
    size++;
  }
  const group = line.waiting.splice(0, size);
  const flight: Promise<void> = carry(env, queue, partition, group).finally(() => {
    if (line.flight !== flight) return;
    line.flight = null;
    if (line.waiting.length === 0) line.drop();
  });
  line.flight = flight;
  for (const m of group) m.flight = flight;
}

/** The RPC of a group: sets each member's outcome, or the error for all of them. */
async function carry(env: Env, queue: string, partition: number, group: Member[]): Promise<void> {
  try {
    const stub = partitionStub(env, queue, partition);
    const outcomes =
      group.length === 1 ? [await stub.enqueue(group[0].batch)] : await stub.enqueueAll(group.map((m) => m.batch));
    group.forEach((m, i) => (m.outcome = outcomes[i]));
  } catch (error) {
    for (const m of group) m.error = error;
  }
}

/** One turn of the event loop: a timer of 0 (workerd runs it after the I/O that is ready). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Whether `flight` lands within `ms`. The timer is the waiter's patience, and an event of its own context besides the flight. */
function landsWithin(flight: Promise<void>, ms: number): Promise<boolean> {
  let timer: number | undefined;
  const patience = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([flight.then(() => true as const), patience]).finally(() => clearTimeout(timer ?? null));
}
