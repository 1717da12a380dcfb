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

test('a floor keeps that share of the ceiling: equal jitter waits at least half of it', () => {
  const bounds = { baseMs: 1_000, maxMs: 60_000, floor: 0.5 };
  expect([1, 2, 3, 6, 7, 40].map((a) => jitteredBackoffMs(a, bounds, () => 0))).toEqual([
    500, 1_000, 2_000, 16_000, 30_000, 30_000,
  ]);
  expect([1, 2, 7, 1000].map((a) => jitteredBackoffMs(a, bounds, () => 0.999999))).toEqual([
    999, 1_999, 59_999, 59_999,
  ]);
  expect(jitteredBackoffMs(1, { baseMs: 100, maxMs: 100, floor: 1 }, () => 0)).toBe(100);
  expect(jitteredBackoffMs(1, { baseMs: 100, maxMs: 100, floor: 7 }, () => 0)).toBe(100);
});
