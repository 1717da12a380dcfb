import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronTriggerConfig, parseCron } from './cron.ts';
import { decideMisfire, decideMisfireForSchedule } from './misfire.ts';
import { isScheduledTime, previewSchedule } from './schedule.ts';

describe('parseCron', () => {
  it.each([
    ['* * * * *', { minutes: 60, hours: 24, daysOfMonth: 31, months: 12, daysOfWeek: 7 }],
    ['0 9 * * MON-FRI', { minutes: 1, hours: 1, daysOfWeek: 5 }],
    ['*/15 0-6/2 1,15,31 jan-mar,Dec sun,7', { minutes: 4, hours: 4, daysOfMonth: 3, months: 4, daysOfWeek: 1 }],
    ['5/20 * ? * ?', { minutes: 3 }],
    ['0 0 * * 0-7', { daysOfWeek: 7 }],
    ['  0\t12  *  *  *  ', { hours: 1 }],
  ])('accepts %j', (expression, sizes) => {
    const r = parseCron(expression);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (!r.ok) return;
    for (const [field, size] of Object.entries(sizes))
      expect((r.cron as unknown as Record<string, unknown[]>)[field]).toHaveLength(size);
  });

  it.each([
    ['', undefined],
    ['* * * *', undefined],
    ['0 * * * * *', undefined],
    ['@daily', undefined],
    ['60 * * * *', 1],
    ['* 24 * * *', 2],
    ['* * 0 * *', 3],
    ['* * 32 * *', 3],
    ['* * * 13 *', 4],
    ['* * * FOO *', 4],
    ['* * * * 8', 5],
    ['* * * * MON-SUN', 5],
    ['*/0 * * * *', 1],
    ['1,,2 * * * *', 1],
    ['5-1 * * * *', 1],
    ['? * * * *', 1],
    ['* * L * *', 3],
    ['* * * * 1#2', 5],
    ['* * 15W * *', 3],
    ['1-2-3 * * * *', 1],
    ['*/5/2 * * * *', 1],
    ['a * * * *', 1],
  ])('rejects %j naming field %s', (expression, position) => {
    const r = parseCron(expression);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.position).toBe(position);
    if (position !== undefined) expect(r.error.message).toContain(`field ${position}`);
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        parseCron(s);
      }),
      { numRuns: 300 },
    );
  });
});

describe('CronTriggerConfig', () => {
  it('applies defaults and validates timezone, jitter bounds and impossible dates', () => {
    expect(CronTriggerConfig.parse({ expression: '0 9 * * *' })).toEqual({
      expression: '0 9 * * *',
      timezone: 'UTC',
      dst: { gap: 'auto', fold: 'auto' },
      jitterSeconds: 0,
      misfire: { policy: 'fire_once', graceSeconds: 60, maxCatchUp: 10 },
    });
    const bad = CronTriggerConfig.safeParse({
      expression: '0 0 30 2 *',
      timezone: 'Mars/Olympus',
      jitterSeconds: 3601,
    });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['expression', 'timezone', 'jitterSeconds']));
  });
});

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const preview = (expression: string, timezone: string, from: string, n: number) =>
  iso(previewSchedule({ expression, timezone }, new Date(from), n));

describe('previewSchedule', () => {
  it('ORs day-of-month and day-of-week when both are restricted (POSIX)', () => {
    expect(preview('0 0 1 * MON', 'UTC', '2025-01-01T00:00:00Z', 6)).toEqual([
      '2025-01-06T00:00:00.000Z',
      '2025-01-13T00:00:00.000Z',
      '2025-01-20T00:00:00.000Z',
      '2025-01-27T00:00:00.000Z',
      '2025-02-01T00:00:00.000Z',
      '2025-02-03T00:00:00.000Z',
    ]);
  });

  it('ANDs them when one starts with * (Vixie rule)', () => {
    // Odd days of the month that are also Mondays.
    expect(preview('0 0 */2 * MON', 'UTC', '2025-01-01T00:00:00Z', 3)).toEqual([
      '2025-01-13T00:00:00.000Z',
      '2025-01-27T00:00:00.000Z',
      '2025-02-03T00:00:00.000Z',
    ]);
  });

  it('is strictly after `from` and finds Feb 29 years ahead', () => {
    expect(preview('0 0 29 2 *', 'UTC', '2025-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    expect(preview('0 12 * * *', 'UTC', '2025-01-01T12:00:00Z', 1)).toEqual(['2025-01-02T12:00:00.000Z']);
  });

  it('returns sorted, unique times after `from`, each a scheduled time', () => {
    const zones = ['UTC', 'America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'America/Santiago'];
    const expressions = ['*/20 * * * *', '30 2 * * *', '0 1-3 * * *', '15 0 1 * FRI', '0 0 * * 0'];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.constantFrom(...expressions),
        fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
        (timezone, expression, from) => {
          const times = previewSchedule({ expression, timezone }, from, 6);
          expect(times).toHaveLength(6);
          for (let i = 0; i < times.length; i++) {
            expect((times[i] as Date).getTime()).toBeGreaterThan(
              i === 0 ? from.getTime() : (times[i - 1] as Date).getTime(),
            );
          }
          expect(isScheduledTime({ expression, timezone }, times[0] as Date)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('decideMisfire', () => {
  const nominal = new Date('2025-05-01T09:00:00Z');
  const at = (seconds: number) => new Date(nominal.getTime() + seconds * 1000);
  const base = { nominalTime: nominal, graceSeconds: 60, maxCatchUp: 2 };
  const hourly = [at(3600), at(7200), at(10800)];

  it.each([
    ['skip', 30, hourly, 'run'],
    ['skip', 61, hourly, 'skip'],
    ['fire_once', 61, hourly, 'run'],
    ['fire_once', 3600, hourly, 'coalesce'],
    ['fire_all', 3600, hourly, 'run'],
    ['fire_all', 7200, hourly, 'skip'],
    ['fire_all', 7199, hourly, 'run'],
  ] as const)('%s, %s s late -> %s', (policy, late, followingTimes, action) => {
    expect(decideMisfire({ ...base, policy, actualTime: at(late), followingTimes }).action).toBe(action);
  });

  it('measures lateness after jitter', () => {
    expect(decideMisfire({ ...base, policy: 'skip', actualTime: at(100), jitterSeconds: 50 }).action).toBe('run');
  });

  it('fire_once: of a late streak exactly the newest runs', () => {
    const config = CronTriggerConfig.parse({
      expression: '*/10 * * * *',
      misfire: { policy: 'fire_once', graceSeconds: 30 },
    });
    const actual = new Date('2025-05-01T10:05:00Z');
    const streak = previewSchedule(config, new Date('2025-05-01T08:59:00Z'), 7);
    const decisions = streak.map((t) => decideMisfireForSchedule(config, t, actual).action);
    expect(decisions).toEqual(['coalesce', 'coalesce', 'coalesce', 'coalesce', 'coalesce', 'coalesce', 'run']);
  });

  it('fire_all: of a late streak the newest maxCatchUp run', () => {
    const config = CronTriggerConfig.parse({
      expression: '*/10 * * * *',
      misfire: { policy: 'fire_all', graceSeconds: 30, maxCatchUp: 3 },
    });
    const actual = new Date('2025-05-01T10:05:00Z');
    const streak = previewSchedule(config, new Date('2025-05-01T08:59:00Z'), 7);
    const decisions = streak.map((t) => decideMisfireForSchedule(config, t, actual).action);
    expect(decisions).toEqual(['skip', 'skip', 'skip', 'skip', 'run', 'run', 'run']);
  });
});
