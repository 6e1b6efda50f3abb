/**
 * The push loop of one partition, run by its alarm: lease batches through
 * the delivery core, send each to its target, settle each as it comes
 * back, and lease again as room frees up, until nothing more can go now.
 * The alarm then sets itself for when something can (a rate token, the end
 * of a batch's wait, of a Retry-After pause), or waits for an enqueue.
 *
 * Nothing durable waits in memory: a batch is a lease in SQLite before it
 * is sent, and a partition that goes away mid-delivery leaves leases that
 * end on their own and are retried. The only wait in memory is for the
 * deliveries this alarm sent, each bounded by its timeout.
 */
import type { PushBatch } from "./batch";

/**
 * Batches one partition has out at once, at most: a Worker invocation (an
 * alarm is one) opens at most six connections at a time and queues the
 * rest, whose wait would count against their timeout.
 */
export const MAX_CONCURRENT_BATCHES = 6;

/** Deliveries one alarm sends at most (each is a subrequest of the alarm's invocation); the next alarm goes on at once. */
export const MAX_DELIVERIES_PER_ALARM = 500;

/** How long one alarm keeps leasing; it then lets its deliveries finish and the next alarm goes on at once. */
export const PUMP_MS = 30_000;

/** What the pump needs of its partition. */
export interface PumpHost {
  /** Leases up to `slots` batches in one group commit; `wakeAt`: when something held back can go. */
  lease(slots: number): Promise<{ batches: PushBatch[]; wakeAt: number | null }>;
  /** Sends one batch and settles it; never rejects. */
  deliver(batch: PushBatch): Promise<void>;
}

export class PushPump {
  /** Something may have become deliverable since the pump last leased. */
  private poked = false;
  private wake: (() => void) | null = null;
  /** Whether `run` is going (inside an alarm). */
  running = false;

  /** Something may have become deliverable: a running pump leases again; `pending` tells a stopped one's alarm. */
  poke(): void {
    this.poked = true;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Whether something may have become deliverable since the pump last leased. */
  get pending(): boolean {
    return this.poked;
  }

  /**
   * Delivers until nothing more can go now and every batch sent is
   * settled. Answers when the alarm should run again (null: nothing is
   * due; an enqueue or a configuration change will set it).
   */
  async run(host: PumpHost): Promise<number | null> {
    const started = Date.now();
    const out = new Set<Promise<void>>();
    let sent = 0;
    let spent = false;
    let wakeAt: number | null = null;
    this.running = true;
    try {
      for (;;) {
        this.poked = false;
        spent ||= sent >= MAX_DELIVERIES_PER_ALARM || Date.now() - started >= PUMP_MS;
        const slots = spent ? 0 : Math.min(MAX_CONCURRENT_BATCHES - out.size, MAX_DELIVERIES_PER_ALARM - sent);
        if (slots > 0) {
          const leased = await host.lease(slots);
          wakeAt = leased.wakeAt;
          for (const batch of leased.batches) {
            sent += 1;
            const delivery: Promise<void> = host.deliver(batch).finally(() => {
              out.delete(delivery);
              this.poke();
            });
            out.add(delivery);
          }
        }
        if (this.poked && !spent) continue;
        if (out.size === 0) break;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.running = false;
      this.wake = null;
    }
    return spent ? Date.now() : wakeAt;
  }
}
