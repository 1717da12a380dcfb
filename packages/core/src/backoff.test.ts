import { expect, test } from 'vitest';
import { jitteredBackoffMs } from './backoff.ts';

test('the ceiling doubles per attempt up to the cap, and the delay is a random fraction of it', () => {
  const bounds = { baseMs: 100, maxMs: 1_000 };
  expect([1, 2, 3, 4, 5, 9].map((a) => jitteredBackoffMs(a, bounds, () => 0.999999))).toEqual([
    99, 199, 399, 799, 999, 999,
  ]);
  expect(jitteredBackoffMs(3, bounds, () => 0.5)).toBe(200);
  expect(jitteredBackoffMs(3, bounds, () => 0)).toBe(1);
});
