import { randomFillSync } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Ids sort roughly by
 * creation time, which keeps b-tree inserts local; ordering never relies on it (lists order by
 * `created_at, id`).
 */
export function newId(now: number = Date.now()): string {
  const b = new Uint8Array(16);
  randomFillSync(b);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Buffer.from(b).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in canonical form (so it can be compared to a `uuid` column without a cast error). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
