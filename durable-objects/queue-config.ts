import { QUEUE_CONFIG_RANGES, QUEUE_NAME_PATTERN, type QueueConfig, type QueueConfigPatch } from "../client/protocol";
import { checkPush } from "./push/settings";

/** Why a configuration was refused: the code and a message naming the field(s). */
export interface ConfigProblem {
  code: "INVALID_VALUE" | "CONFLICT";
  message: string;
}

const NULLABLE = new Set<keyof QueueConfig>(["maxDepth", "maxInFlight", "deliveryRatePerSec"]);
const FRACTIONAL = new Set<keyof QueueConfig>(["deliveryRatePerSec"]);

/**
 * Applies a patch to a configuration and checks the result: each value in
 * its range, and the rules that tie fields together. Shapes (types, unknown
 * fields) are the route's concern; this checks values only, so the registry
 * can check the merged configuration inside its own transaction.
 * `pushHeaders`: the header values of a `push` the patch sets to an
 * endpoint, which the configuration does not keep (the registry does).
 */
export function applyConfigPatch(
  current: QueueConfig,
  patch: QueueConfigPatch,
): { config: QueueConfig; pushHeaders?: Record<string, string> } | { problem: ConfigProblem } {
  const { push: pushSetting, ...settings } = patch;
  const config: QueueConfig = { ...current, ...settings };
  let pushHeaders: Record<string, string> | undefined;
  if (pushSetting === null) config.push = null;
  else if (pushSetting !== undefined) {
    const checked = checkPush(pushSetting);
    if ("problem" in checked) return invalid(checked.problem.message);
    config.push = checked.push;
    pushHeaders = checked.headers;
  }
  for (const [field, range] of Object.entries(QUEUE_CONFIG_RANGES) as [keyof typeof QUEUE_CONFIG_RANGES, { min: number; max: number }][]) {
    if (!(field in settings)) continue;
    const value = config[field];
    if (value === null && NULLABLE.has(field)) continue;
    const whole = FRACTIONAL.has(field) || Number.isInteger(value);
    if (typeof value !== "number" || !Number.isFinite(value) || !whole || value < range.min || value > range.max) {
      const kind = FRACTIONAL.has(field) ? "a number" : "an integer";
      const orNull = NULLABLE.has(field) ? " or null (no limit)" : "";
      return invalid(`${field}: must be ${kind} from ${range.min} to ${range.max}${orNull}`);
    }
  }
  if ("deadLetterQueue" in patch && config.deadLetterQueue !== null && !QUEUE_NAME_PATTERN.test(String(config.deadLetterQueue))) {
    return invalid("deadLetterQueue: must be a queue name or null (dead letters stay in the queue)");
  }
  if (config.backoffMaxMs < config.backoffBaseMs) {
    return invalid(
      `backoffMaxMs (${config.backoffMaxMs}) must be at least backoffBaseMs (${config.backoffBaseMs})`,
    );
  }
  for (const field of ["maxDepth", "maxInFlight"] as const) {
    const limit = config[field];
    if (limit !== null && limit < config.partitions) {
      return invalid(
        `${field} (${limit}) must be at least partitions (${config.partitions}): each partition keeps a share of at least one`,
      );
    }
  }
  if (config.partitions < current.partitions) {
    return {
      problem: {
        code: "CONFLICT",
        message: `partitions: cannot shrink from ${current.partitions} to ${config.partitions}; messages stored in the last partitions would be stranded`,
      },
    };
  }
  return pushHeaders === undefined ? { config } : { config, pushHeaders };
}

const invalid = (message: string) => ({ problem: { code: "INVALID_VALUE" as const, message } });

/**
 * Partition `index`'s share of a queue-wide count limit: the limit split as
 * evenly as whole numbers allow, so the shares add up to the limit exactly.
 */
export function shareOf(limit: number, partitions: number, index: number): number {
  const base = Math.floor(limit / partitions);
  return base + (index < limit % partitions ? 1 : 0);
}
