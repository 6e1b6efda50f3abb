import { QueuePartition, type OperationKind } from "../durable-objects/queue-partition";
import { Meter, type MeterReading } from "./meter";

/**
 * The partition with a meter on its SQL: every statement's rows read and
 * written, and the requests and alarms it served. For the benchmark and the
 * tests that count what an operation costs; production runs QueuePartition
 * itself (see metered-worker.ts).
 */
export class MeteredQueuePartition extends QueuePartition {
  // `declare`: no field initializer, which would run after the base constructor has set it.
  declare private meterState: Meter;

  protected override sqlStorage(): SqlStorage {
    this.meterState ??= new Meter();
    return this.meterState.wrap(super.sqlStorage());
  }

  protected override onOperation(kind: OperationKind): void {
    this.meterState.begin(kind);
  }

  /** What this instance has cost so far; the call itself is not counted. */
  async meter(): Promise<MeterReading> {
    return this.meterState.read();
  }
}
