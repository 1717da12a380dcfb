import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronTriggerConfig, parseCron } from './cron.ts';
import { decideMisfire, decideMisfireForSchedule } from './misfire.ts';
import { compileToScheduleSpec, isScheduledTime, previewSchedule } from './schedule.ts';

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

  // The DST table. Gap: fire once at the first instant after it. Repeat: fire at both instants.
  it.each([
    // America/New_York: 2025-03-09 02:00 EST -> 03:00 EDT; 2025-11-02 02:00 EDT -> 01:00 EST
    [
      'America/New_York',
      '30 2 * * *',
      '2025-03-08T12:00:00Z',
      ['2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'],
    ],
    [
      'America/New_York',
      '*/30 2-3 * * *',
      '2025-03-09T05:00:00Z',
      ['2025-03-09T07:00:00.000Z', '2025-03-09T07:30:00.000Z', '2025-03-10T06:00:00.000Z'],
    ],
    [
      'America/New_York',
      '30 1 * * *',
      '2025-11-01T12:00:00Z',
      ['2025-11-02T05:30:00.000Z', '2025-11-02T06:30:00.000Z', '2025-11-03T06:30:00.000Z'],
    ],
    ['America/New_York', '0 9 * * *', '2025-03-08T12:00:00Z', ['2025-03-08T14:00:00.000Z', '2025-03-09T13:00:00.000Z']],
    // Europe/Berlin: 2025-03-30 02:00 CET -> 03:00 CEST; 2025-10-26 03:00 CEST -> 02:00 CET
    ['Europe/Berlin', '30 2 * * *', '2025-03-29T12:00:00Z', ['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z']],
    [
      'Europe/Berlin',
      '30 2 * * *',
      '2025-10-25T12:00:00Z',
      // Repeated 02:30 east of UTC: Temporal fires once, at the second instant (02:30 CET).
      ['2025-10-26T01:30:00.000Z', '2025-10-27T01:30:00.000Z', '2025-10-28T01:30:00.000Z'],
    ],
    // Hourly through the repeated hour east of UTC: 02:00 CEST, then 03:00 CET (02:00 CET is not revisited).
    ['Europe/Berlin', '0 * * * *', '2025-10-26T00:00:00Z', ['2025-10-26T02:00:00.000Z', '2025-10-26T03:00:00.000Z']],
    // Australia/Lord_Howe (30-minute shift): 2025-10-05 02:00 +10:30 -> 02:30 +11; 2025-04-06 02:00 +11 -> 01:30 +10:30
    [
      'Australia/Lord_Howe',
      '15 2 * * *',
      '2025-10-03T12:00:00Z',
      ['2025-10-03T15:45:00.000Z', '2025-10-04T15:30:00.000Z', '2025-10-05T15:15:00.000Z'],
    ],
    [
      'Australia/Lord_Howe',
      '45 1 * * *',
      '2025-04-04T12:00:00Z',
      // Repeated 01:45 on 2025-04-06: once, at the second instant (+10:30).
      ['2025-04-04T14:45:00.000Z', '2025-04-05T15:15:00.000Z', '2025-04-06T15:15:00.000Z', '2025-04-07T15:15:00.000Z'],
    ],
    [
      'Australia/Lord_Howe',
      '15 1 * * *',
      '2025-04-05T00:00:00Z',
      // Temporal revisits a repeated hour with a fixed one-hour shift, which here would add a
      // fire at 01:45 (+10:30); a skip entry removes it, so 01:15 fires once, at +11.
      ['2025-04-05T14:15:00.000Z', '2025-04-06T14:45:00.000Z', '2025-04-07T14:45:00.000Z'],
    ],
    // America/Santiago (southern hemisphere, midnight transitions): 2025-09-07 00:00 -04 -> 01:00 -03; 2025-04-06 00:00 -03 -> 2025-04-05 23:00 -04
    [
      'America/Santiago',
      '30 0 * * *',
      '2025-09-05T12:00:00Z',
      ['2025-09-06T04:30:00.000Z', '2025-09-07T04:00:00.000Z', '2025-09-08T03:30:00.000Z'],
    ],
    [
      'America/Santiago',
      '30 23 * * *',
      '2025-04-05T12:00:00Z',
      ['2025-04-06T02:30:00.000Z', '2025-04-06T03:30:00.000Z', '2025-04-07T03:30:00.000Z'],
    ],
    // Australia/Sydney: 2025-10-05 02:00 AEST -> 03:00 AEDT
    [
      'Australia/Sydney',
      '30 2 * * SUN',
      '2025-09-30T00:00:00Z',
      ['2025-10-04T16:00:00.000Z', '2025-10-11T15:30:00.000Z'],
    ],
  ])('%s %s from %s', (timezone, expression, from, expected) => {
    expect(preview(expression, timezone, from, expected.length)).toEqual(expected);
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

describe('compileToScheduleSpec', () => {
  it('emits two calendars for POSIX day OR, with Temporal names and ranges', () => {
    const spec = compileToScheduleSpec(
      { expression: '0 9 1,15 * MON-FRI', timezone: 'Europe/Berlin', jitterSeconds: 30 },
      { fromYear: 2025, toYear: 2025 },
    );
    expect(spec).toEqual({
      timezone: 'Europe/Berlin',
      jitter: 30_000,
      calendars: [
        {
          second: 0,
          minute: 0,
          hour: 9,
          month: '*',
          year: '*',
          dayOfMonth: [1, 15],
          dayOfWeek: '*',
          comment: '0 9 1,15 * MON-FRI (day-of-month)',
        },
        {
          second: 0,
          minute: 0,
          hour: 9,
          month: '*',
          year: '*',
          dayOfMonth: '*',
          dayOfWeek: { start: 'MONDAY', end: 'FRIDAY', step: 1 },
          comment: '0 9 1,15 * MON-FRI (day-of-week)',
        },
      ],
    });
  });

  it('emits one calendar when a day field is *', () => {
    const spec = compileToScheduleSpec({ expression: '*/15 8-17 * JAN,JUL *', timezone: 'UTC', jitterSeconds: 0 });
    expect(spec.calendars).toEqual([
      {
        second: 0,
        minute: { start: 0, end: 45, step: 15 },
        hour: { start: 8, end: 17, step: 1 },
        month: ['JANUARY', 'JULY'],
        year: '*',
        dayOfMonth: '*',
        dayOfWeek: '*',
        comment: '*/15 8-17 * JAN,JUL *',
      },
    ]);
    expect(spec.skip).toBeUndefined();
  });

  it('pins the first instant after a gap that swallowed an occurrence', () => {
    const spec = compileToScheduleSpec(
      { expression: '30 2 * * *', timezone: 'America/New_York', jitterSeconds: 0 },
      { fromYear: 2025, toYear: 2026 },
    );
    expect(spec.calendars.slice(1)).toEqual([
      {
        second: 0,
        minute: 0,
        hour: 3,
        dayOfMonth: 9,
        month: 'MARCH',
        year: 2025,
        dayOfWeek: '*',
        comment: '30 2 * * *: DST gap',
      },
      {
        second: 0,
        minute: 0,
        hour: 3,
        dayOfMonth: 8,
        month: 'MARCH',
        year: 2026,
        dayOfWeek: '*',
        comment: '30 2 * * *: DST gap',
      },
    ]);
    // 03:00 is a regular time of this expression: nothing to add.
    expect(
      compileToScheduleSpec(
        { expression: '0,30 2,3 * * *', timezone: 'America/New_York', jitterSeconds: 0 },
        { fromYear: 2025, toYear: 2025 },
      ).calendars,
    ).toHaveLength(1);
    // Only days the expression fires on get a fix-up (2025-03-09 is a Sunday).
    expect(
      compileToScheduleSpec(
        { expression: '30 2 * * MON', timezone: 'America/New_York', jitterSeconds: 0 },
        { fromYear: 2025, toYear: 2025 },
      ).calendars,
    ).toHaveLength(1);
  });

  it('skips where Go would normalise a gap time into the same hour (30-minute zones)', () => {
    const spec = compileToScheduleSpec(
      { expression: '15 2 * * *', timezone: 'Australia/Lord_Howe', jitterSeconds: 0 },
      { fromYear: 2025, toYear: 2025 },
    );
    expect(spec.calendars.slice(1)).toMatchObject([
      { year: 2025, month: 'OCTOBER', dayOfMonth: 5, hour: 2, minute: 30 },
    ]);
    expect(spec.skip).toMatchObject([{ year: 2025, month: 'OCTOBER', dayOfMonth: 5, hour: 2, minute: 45 }]);
  });
});

describe('repeated hours never fire at a time the expression does not name', () => {
  it.each([
    ['Europe/Berlin', '*/20 2 * * *', '2027-10-30T12:00:00Z'],
    ['Australia/Lord_Howe', '15 1 * * *', '2027-04-03T00:00:00Z'],
    ['Australia/Lord_Howe', '*/10 1 * * *', '2027-04-03T00:00:00Z'],
    ['America/New_York', '*/20 1 * * *', '2027-11-06T12:00:00Z'],
  ])('%s %s', (timezone, expression, from) => {
    const minutes = new Set(
      expression.startsWith('*/')
        ? Array.from(
            { length: 60 / Number(expression.slice(2).split(' ')[0]) },
            (_, i) => i * Number(expression.slice(2).split(' ')[0]),
          )
        : [Number(expression.split(' ')[0])],
    );
    const hour = Number(expression.split(' ')[1]);
    const wall = new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    for (const t of previewSchedule({ expression, timezone }, new Date(from), 20)) {
      const [h, m] = wall.format(t).split(':').map(Number);
      expect(h).toBe(hour);
      expect(minutes.has(m as number)).toBe(true);
    }
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
