/** Bounds of a retry schedule: the first delay's ceiling, and the cap every later one stays under. */
export interface BackoffBounds {
  readonly baseMs: number;
  readonly maxMs: number;
  /**
   * The share of the ceiling always waited, 0–1. 0 (the default) is "full jitter": delays
   * anywhere under the ceiling. 0.5 is "equal jitter": at least half of it, for retries where a
   * near-immediate second attempt is useless (a redelivery, a row the relay failed to publish).
   */
  readonly floor?: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry), jittered over an exponential
 * ceiling `min(maxMs, baseMs × 2^(attempt-1))`: `ceiling × (floor + (1 − floor) × random())`, so
 * the retries of many clients that failed together (a NATS leader election, a restart) spread
 * out instead of arriving at once. The one backoff formula of the product's own retry loops
 * (Temporal's retry policies are Temporal's). `random` is injectable for tests; at least 1 ms.
 */
export function jitteredBackoffMs(attempt: number, bounds: BackoffBounds, random: () => number = Math.random): number {
  const ceiling = Math.min(bounds.maxMs, bounds.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  const floor = Math.min(1, Math.max(0, bounds.floor ?? 0));
  return Math.max(1, Math.floor(ceiling * (floor + (1 - floor) * random())));
}
