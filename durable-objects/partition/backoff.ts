/**
 * Retry delay after the `attempts`-th delivery failed:
 * `min(backoffMaxMs, backoffBaseMs * 2^(attempts-1))`, with "equal jitter"
 * (half fixed, half random). Full jitter can retry a poison message at once;
 * no jitter makes every consumer that failed together retry together.
 */
export function backoffMs(
  attempts: number,
  policy: { backoffBaseMs: number; backoffMaxMs: number },
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 52);
  const capped = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** exponent);
  return Math.round(capped / 2 + random() * (capped / 2));
}
