import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronTriggerConfig, cronNeverFires, type DstPolicyInput, parseCron } from './cron.ts';
import { cronSchedule, nextOccurrences, occurrencesBetween } from './cron-engine.ts';
import { previewOccurrences } from './schedule.ts';
import { referenceFires, DST_TEST_ZONES as ZONES } from './testing.ts';
import { TimeZone } from './time-zone.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const next = (expression: string, timezone: string, from: string, n: number, dst?: DstPolicyInput) =>
  nextOccurrences(cronSchedule({ expression, timezone, dst }), Date.parse(from), n).map((o) => iso(o.at));

describe('the DST rules, on the cases that Temporal’s own engine gets wrong', () => {
  // The README's table. Each row: what fires, as UTC instants, from `from` on.
  it.each([
    // 1. Day of week of a local date whose midnight falls in a gap (Santiago, DST starts at 00:00).
    [
      '0 9 * * SUN',
      'America/Santiago',
      '2027-09-03T22:00:00Z',
      ['2027-09-05T12:00:00.000Z', '2027-09-12T12:00:00.000Z'],
    ],
    [
      '59 23 * * SAT',
      'America/Santiago',
      '2027-09-03T22:00:00Z',
      ['2027-09-05T03:59:00.000Z', '2027-09-12T02:59:00.000Z'],
    ],
    ['0 9 * * SUN', 'America/Havana', '2027-03-12T22:00:00Z', ['2027-03-14T13:00:00.000Z', '2027-03-21T13:00:00.000Z']],
    ['0 9 * * SUN', 'America/Havana', '2028-03-10T22:00:00Z', ['2028-03-12T13:00:00.000Z']],
    // 2. A wildcard job follows the clock: both copies of the repeated hour, then every time once.
    [
      '*/15 * * * *',
      'Europe/Berlin',
      '2027-10-30T23:50:00Z',
      [
        '2027-10-31T00:00:00.000Z', // 02:00+02
        '2027-10-31T00:15:00.000Z',
        '2027-10-31T00:30:00.000Z',
        '2027-10-31T00:45:00.000Z',
        '2027-10-31T01:00:00.000Z', // 02:00+01
        '2027-10-31T01:15:00.000Z',
        '2027-10-31T01:30:00.000Z',
        '2027-10-31T01:45:00.000Z',
        '2027-10-31T02:00:00.000Z', // 03:00+01
        '2027-10-31T02:15:00.000Z',
      ],
    ],
    [
      '*/15 * * * *',
      'Australia/Lord_Howe',
      '2027-04-03T14:20:00Z',
      // 01:30+11, 01:45+11, 01:30+10:30, 01:45+10:30, 02:00+10:30
      [
        '2027-04-03T14:30:00.000Z',
        '2027-04-03T14:45:00.000Z',
        '2027-04-03T15:00:00.000Z',
        '2027-04-03T15:15:00.000Z',
        '2027-04-03T15:30:00.000Z',
      ],
    ],
    // 3. A fixed-time job fires a repeated time once, at its first instant (02:45+02).
    [
      '45 1-3 * * *',
      'Europe/Berlin',
      '2027-10-30T22:00:00Z',
      ['2027-10-30T23:45:00.000Z', '2027-10-31T00:45:00.000Z', '2027-10-31T02:45:00.000Z'],
    ],
    // 4. Chatham's gap is 02:45–03:45: 03:45+13:45 is a real named time and fires.
    [
      '*/15 2-3 * * *',
      'Pacific/Chatham',
      '2027-09-25T13:00:00Z',
      ['2027-09-25T13:15:00.000Z', '2027-09-25T13:30:00.000Z', '2027-09-25T13:45:00.000Z', '2027-09-25T14:00:00.000Z'],
    ],
    // 5. Our tz data decides (Vancouver stays on −07:00 in 2026c; the server's 2025b says −08:00).
    [
      '0 2 * * *',
      'America/Vancouver',
      '2027-01-01T00:00:00Z',
      ['2027-01-01T09:00:00.000Z', '2027-01-02T09:00:00.000Z'],
    ],
    // A fixed-time job in a gap fires once, at the gap's end; a daily job never loses a day.
    [
      '30 2 * * *',
      'America/New_York',
      '2027-03-13T12:00:00Z',
      ['2027-03-14T07:00:00.000Z', '2027-03-15T06:30:00.000Z'],
    ],
    [
      '30 1 * * *',
      'America/New_York',
      '2027-11-06T12:00:00Z',
      ['2027-11-07T05:30:00.000Z', '2027-11-08T06:30:00.000Z'],
    ],
    // `0 * * * *` runs every real hour: 01:00 EDT, 01:00 EST, 02:00 EST.
    [
      '0 * * * *',
      'America/New_York',
      '2027-11-07T04:30:00Z',
      ['2027-11-07T05:00:00.000Z', '2027-11-07T06:00:00.000Z', '2027-11-07T07:00:00.000Z'],
    ],
    // …and on the spring day skips the hour that does not exist: 01:00 EST, 03:00 EDT.
    ['0 * * * *', 'America/New_York', '2027-03-14T05:30:00Z', ['2027-03-14T06:00:00.000Z', '2027-03-14T07:00:00.000Z']],
  ])('%s in %s from %s', (expression, timezone, from, expected) => {
    expect(next(expression, timezone, from, expected.length)).toEqual(expected);
  });
});

describe('each DST policy', () => {
  // New York 2027-03-14: 02:00 EST -> 03:00 EDT (07:00Z). 2027-11-07: 02:00 EDT -> 01:00 EST (06:00Z).
  const spring = '2027-03-14T05:00:00Z';
  const fall = '2027-11-07T04:00:00Z';
  it.each([
    // gap: shift merges every swallowed time into the gap's end, once, with 03:00 itself.
    ['*/30 2-3 * * *', { gap: 'shift' }, spring, ['2027-03-14T07:00:00.000Z', '2027-03-14T07:30:00.000Z']],
    ['*/30 2-3 * * *', { gap: 'skip' }, spring, ['2027-03-14T07:00:00.000Z', '2027-03-14T07:30:00.000Z']],
    ['30 2 * * *', { gap: 'skip' }, spring, ['2027-03-15T06:30:00.000Z']],
    ['30 2 * * *', { gap: 'shift' }, spring, ['2027-03-14T07:00:00.000Z']],
    ['*/30 2 * * *', { gap: 'auto' }, spring, ['2027-03-15T06:00:00.000Z']],
    ['30 1 * * *', { fold: 'first' }, fall, ['2027-11-07T05:30:00.000Z', '2027-11-08T06:30:00.000Z']],
    ['30 1 * * *', { fold: 'last' }, fall, ['2027-11-07T06:30:00.000Z', '2027-11-08T06:30:00.000Z']],
    ['30 1 * * *', { fold: 'both' }, fall, ['2027-11-07T05:30:00.000Z', '2027-11-07T06:30:00.000Z']],
    [
      '*/30 1 * * *',
      { fold: 'auto' },
      fall,
      ['2027-11-07T05:00:00.000Z', '2027-11-07T05:30:00.000Z', '2027-11-07T06:00:00.000Z'],
    ],
    [
      '*/30 1 * * *',
      { gap: 'auto', fold: 'first' },
      fall,
      ['2027-11-07T05:00:00.000Z', '2027-11-07T05:30:00.000Z', '2027-11-08T06:00:00.000Z'],
    ],
  ] as const)('%s %j', (expression, dst, from, expected) => {
    expect(next(expression, 'America/New_York', from, expected.length, dst)).toEqual(expected);
  });

  it('marks what it touched in the preview', () => {
    const gap = previewOccurrences(
      { expression: '*/30 2-3 * * *', timezone: 'America/New_York', dst: { gap: 'shift' } },
      new Date('2027-03-14T05:00:00Z'),
      2,
    );
    expect(gap.dst).toEqual({ gap: 'shift', fold: 'both' });
    expect(gap.occurrences).toEqual([
      {
        at: '2027-03-14T07:00:00.000Z',
        local: '2027-03-14T03:00:00-04:00',
        dst: 'shifted',
        shiftedFrom: ['2027-03-14T02:00', '2027-03-14T02:30'],
      },
      { at: '2027-03-14T07:30:00.000Z', local: '2027-03-14T03:30:00-04:00' },
    ]);
    const fold = previewOccurrences(
      { expression: '30 1 * * *', timezone: 'America/New_York', dst: { fold: 'both' } },
      new Date('2027-11-07T04:00:00Z'),
      2,
    );
    expect(fold.occurrences).toEqual([
      { at: '2027-11-07T05:30:00.000Z', local: '2027-11-07T01:30:00-04:00', dst: 'repeated', fold: 'first' },
      { at: '2027-11-07T06:30:00.000Z', local: '2027-11-07T01:30:00-05:00', dst: 'repeated', fold: 'second' },
    ]);
  });

  it('reads old definitions without `dst` as auto, and names a bad policy field', () => {
    expect(CronTriggerConfig.parse({ expression: '0 9 * * *' }).dst).toEqual({ gap: 'auto', fold: 'auto' });
    expect(CronTriggerConfig.parse({ expression: '0 9 * * *', dst: { fold: 'both' } }).dst).toEqual({
      gap: 'auto',
      fold: 'both',
    });
    const bad = CronTriggerConfig.safeParse({ expression: '0 9 * * *', dst: { gap: 'later', flod: 'both' } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['dst.gap', 'dst']));
  });
});

/** Cron fields, weighted towards what meets DST: small hours, steps, lists, names, 7 as Sunday. */
const fieldOf = (min: number, max: number, names?: readonly string[]) => {
  const value = fc.integer({ min, max });
  const named = names ? fc.constantFrom(...names) : value.map(String);
  return fc.oneof(
    fc.constant('*'),
    fc.integer({ min: 1, max: Math.min(30, max) }).map((s) => `*/${s}`),
    value.map(String),
    named,
    fc.tuple(value, value).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc
      .tuple(value, value, fc.integer({ min: 1, max: 12 }))
      .map(([a, b, s]) => `${Math.min(a, b)}-${Math.max(a, b)}/${s}`),
    fc.tuple(value, fc.integer({ min: 1, max: 20 })).map(([a, s]) => `${a}/${s}`),
    fc.uniqueArray(value, { minLength: 2, maxLength: 4 }).map((vs) => vs.join(',')),
  );
};
const hourField = fc.oneof(
  fieldOf(0, 23),
  fc.constantFrom('0-3', '1-3', '2', '1', '0', '23', '0,2', '1-4/2', '22-23', '0-2'),
);
const minuteField = fc.oneof(fieldOf(0, 59), fc.constantFrom('0', '30', '15,45', '*/15', '*/7', '59', '0-59/20'));
const expressionArb = fc
  .tuple(
    minuteField,
    hourField,
    fc.oneof({ weight: 3, arbitrary: fc.constant('*') }, fieldOf(1, 31), fc.constantFrom('29', '28-31', '1', '?')),
    fc.oneof({ weight: 3, arbitrary: fc.constant('*') }, fieldOf(1, 12, ['JAN', 'FEB', 'MAR', 'APR', 'OCT', 'NOV'])),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant('*') },
      fieldOf(0, 7, ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']),
      fc.constantFrom('7', '0', 'SAT,SUN', 'MON-FRI'),
    ),
  )
  .map((fields) => fields.join(' '))
  .filter((e) => {
    const p = parseCron(e);
    return p.ok && !cronNeverFires(p.cron);
  });
const dstArb = fc.record({
  gap: fc.constantFrom('shift', 'skip', 'auto'),
  fold: fc.constantFrom('first', 'last', 'both', 'auto'),
}) as fc.Arbitrary<DstPolicyInput>;

/** A transition of the zone between 2026 and 2030 (any instant for zones without one). */
function transitionNear(timezone: string, pick: number, jitterMinutes: number): number {
  const all = TimeZone.of(timezone).transitions(Date.UTC(2026, 0, 1), Date.UTC(2031, 0, 1));
  const base =
    all.length > 0 ? (all[pick % all.length] as (typeof all)[number]).at : Date.UTC(2026, 0, 1) + pick * 3_600_000;
  return base + jitterMinutes * 60_000;
}

describe('the engine equals a brute-force reference (minute by minute over wall time)', () => {
  // The walk reaches 3 h past the compared window on each side: a fold lasts at most 2 h (Troll).
  const MARGIN = 3 * 3_600_000;
  const WINDOW = 24 * 3_600_000;
  const compare = (expression: string, timezone: string, dst: DstPolicyInput, start: number) => {
    const from = Math.floor(start / 60_000) * 60_000;
    const to = from + WINDOW;
    const reference = referenceFires(expression, timezone, dst, from - MARGIN, to + MARGIN).filter(
      (t) => t > from && t <= to,
    );
    const engine = occurrencesBetween(cronSchedule({ expression, timezone, dst }), from, to).map((o) => o.at);
    expect(engine.map(iso), `${expression} @ ${timezone} ${JSON.stringify(dst)} from ${iso(from)}`).toEqual(
      reference.map(iso),
    );
  };

  it('around transitions, in every zone of the issue, for every policy', () => {
    fc.assert(
      fc.property(
        expressionArb,
        fc.constantFrom(...ZONES),
        dstArb,
        fc.nat(40),
        fc.integer({ min: -23 * 60, max: -60 }),
        (expression, timezone, dst, pick, jitter) =>
          compare(expression, timezone, dst, transitionNear(timezone, pick, jitter)),
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  it('at arbitrary instants', () => {
    fc.assert(
      fc.property(
        expressionArb,
        fc.constantFrom(...ZONES),
        dstArb,
        fc.date({ min: new Date('2026-01-01'), max: new Date('2031-01-01'), noInvalidDate: true }),
        (expression, timezone, dst, start) => compare(expression, timezone, dst, start.getTime()),
      ),
      { numRuns: 30 },
    );
  }, 60_000);

  it('agrees with itself: next n equals the same span taken between', () => {
    fc.assert(
      fc.property(expressionArb, fc.constantFrom(...ZONES), dstArb, fc.nat(40), (expression, timezone, dst, pick) => {
        const schedule = cronSchedule({ expression, timezone, dst });
        const from = transitionNear(timezone, pick, -120);
        const first = nextOccurrences(schedule, from, 25);
        if (first.length === 0) return;
        const last = (first.at(-1) as (typeof first)[number]).at;
        expect(occurrencesBetween(schedule, from, last)).toEqual(first);
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});
