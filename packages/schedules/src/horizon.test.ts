import { describe, expect, it } from 'vitest';
import { compareTzdata, compileWindowAt, DEFAULT_SCHEDULE_SETTINGS } from './desired-schedule.ts';
import { checkScheduleHealth, type ReconcileLoopStatus } from './reconcile.ts';

describe('compileWindowAt', () => {
  it('covers whole UTC months, one back and thirteen ahead, stable within a month', () => {
    const a = compileWindowAt(new Date('2026-12-01T00:00:00Z'), DEFAULT_SCHEDULE_SETTINGS);
    const b = compileWindowAt(new Date('2026-12-31T23:59:59Z'), DEFAULT_SCHEDULE_SETTINGS);
    expect(a).toEqual({ start: new Date('2026-11-01T00:00:00Z'), end: new Date('2028-01-01T00:00:00Z') });
    expect(b).toEqual(a);
    expect(compileWindowAt(new Date('2027-01-01T00:00:00Z'), DEFAULT_SCHEDULE_SETTINGS).end).toEqual(
      new Date('2028-02-01T00:00:00Z'),
    );
  });
});

describe('compareTzdata', () => {
  it.each([
    ['2026c', '2025b', 1],
    ['2025b', '2026c', -1],
    ['2026a', '2026a', 0],
    ['2026b', '2026a', 1],
    ['unknown', '2020a', -1],
    [undefined, '2020a', -1],
    ['2020a', undefined, 1],
  ] as const)('%s vs %s', (a, b, sign) => {
    expect(Math.sign(compareTzdata(a, b))).toBe(sign);
  });
});

describe('checkScheduleHealth', () => {
  const now = new Date('2027-01-15T12:00:00Z');
  const healthy: ReconcileLoopStatus = {
    startedAt: new Date('2027-01-15T11:00:00Z'),
    lastPassAt: new Date('2027-01-15T11:59:00Z'),
    lastPassError: undefined,
    lastReport: {
      outcomes: {},
      orphansDeleted: [],
      failures: {},
      earliestHorizonEnd: new Date('2028-02-01T00:00:00Z'),
    },
  };
  const check = (status: ReconcileLoopStatus) => () =>
    checkScheduleHealth(status, { maxPassAgeMs: 5 * 60_000, now: () => now });

  it('passes while passes complete and windows reach far ahead', () => {
    expect(check(healthy)).not.toThrow();
    // Just started, no pass yet: fine for a while.
    expect(
      check({ ...healthy, startedAt: new Date('2027-01-15T11:58:00Z'), lastPassAt: undefined, lastReport: undefined }),
    ).not.toThrow();
  });

  it('fails when passes stall, a definition fails, or a window is about to end', () => {
    expect(check({ ...healthy, lastPassAt: new Date('2027-01-15T11:00:00Z'), lastPassError: 'UNAVAILABLE' })).toThrow(
      /no schedule reconcile pass completed since 2027-01-15T11:00:00.000Z: UNAVAILABLE/,
    );
    expect(
      check({
        ...healthy,
        lastReport: {
          ...(healthy.lastReport as NonNullable<ReconcileLoopStatus['lastReport']>),
          failures: { d1: 'boom' },
        },
      }),
    ).toThrow(/failed for 1 definition/);
    expect(
      check({
        ...healthy,
        lastReport: {
          ...(healthy.lastReport as NonNullable<ReconcileLoopStatus['lastReport']>),
          earliestHorizonEnd: new Date('2027-02-01T00:00:00Z'),
        },
      }),
    ).toThrow(/compiled window ends at 2027-02-01/);
  });
});
