/** Bounds of a retry schedule: the first delay's ceiling, and the cap every later one stays under. */
export interface BackoffBounds {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): "full jitter" over an exponential
 * ceiling, `random() × min(maxMs, baseMs × 2^(attempt-1))`, so the retries of many clients that
 * failed together (a NATS leader election, a restart) spread out instead of arriving at once.
 * `random` is injectable for tests; at least 1 ms.
 */
export function jitteredBackoffMs(attempt: number, bounds: BackoffBounds, random: () => number = Math.random): number {
  const ceiling = Math.min(bounds.maxMs, bounds.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.floor(random() * ceiling));
}
