/** Per-key token bucket: `burst` requests at once, refilled at `ratePerSecond`. In memory, per process. */
export interface RateLimiter {
  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean;
}

export interface TokenBucketOptions {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly now?: () => number;
  /** Buckets untouched this long are forgotten (they would be full again anyway). */
  readonly idleMs?: number;
}

export function createTokenBucketLimiter(options: TokenBucketOptions): RateLimiter {
  const now = options.now ?? (() => performance.now());
  const idleMs = options.idleMs ?? 10 * 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  return {
    take(key) {
      const t = now();
      if (t - lastSweep > idleMs) {
        for (const [k, b] of buckets) if (t - b.at > idleMs) buckets.delete(k);
        lastSweep = t;
      }
      const bucket = buckets.get(key) ?? { tokens: options.burst, at: t };
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.ratePerSecond);
      bucket.at = t;
      buckets.set(key, bucket);
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
  };
}

/** A limiter that never says no (tests, benchmarks). */
export const unlimited: RateLimiter = { take: () => true };
