import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronNeverFires, type DstPolicyInput, parseCron } from './cron.ts';
import { cronSchedule, occurrencesBetween } from './cron-engine.ts';
import { compileToScheduleSpec } from './schedule.ts';
import {
  TEMPORAL_DAYS_OF_WEEK,
  TEMPORAL_MONTHS,
  type TemporalCalendarSpec,
  type TemporalScheduleSpec,
} from './schedule-types.ts';
import { DST_TEST_ZONES as ZONES } from './testing.ts';

/**
 * What a calendar-in-UTC spec fires, read the way Temporal documents structured calendars: a
 * time matches when every field matches; ranges are inclusive with a step; `*` is every value.
 * With no timezone there is nothing else to interpret.
 */
function values(field: unknown, lo: number, hi: number, names?: readonly string[]): number[] {
  const base = names === TEMPORAL_MONTHS ? 1 : 0;
  const num = (v: unknown): number => (typeof v === 'number' ? v : (names ?? []).indexOf(String(v)) + base);
  if (field === '*' || field === undefined) return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const out: number[] = [];
  for (const part of Array.isArray(field) ? field : [field]) {
    if (typeof part === 'object' && part !== null) {
      const r = part as { start: unknown; end: unknown; step?: number };
      for (let v = num(r.start); v <= num(r.end); v += r.step ?? 1) out.push(v);
    } else {
      out.push(num(part));
    }
  }
  return out;
}

function firesOf(spec: TemporalScheduleSpec): number[] {
  const fires = new Set<number>();
  const start = spec.startAt.getTime();
  const end = spec.endAt.getTime();
  for (const c of spec.calendars as TemporalCalendarSpec[]) {
    const dows = values(c.dayOfWeek, 0, 6, TEMPORAL_DAYS_OF_WEEK);
    for (const y of values(c.year, 2000, 2100))
      for (const m of values(c.month, 1, 12, TEMPORAL_MONTHS))
        for (const d of values(c.dayOfMonth, 1, 31)) {
          if (d > new Date(Date.UTC(y, m, 0)).getUTCDate()) continue;
          if (!dows.includes(new Date(Date.UTC(y, m - 1, d)).getUTCDay())) continue;
          for (const h of values(c.hour, 0, 23))
            for (const mi of values(c.minute, 0, 59))
              for (const s of values(c.second, 0, 59)) {
                const t = Date.UTC(y, m - 1, d, h, mi, s);
                if (t >= start && t <= end) fires.add(t);
              }
        }
  }
  return [...fires].sort((a, b) => a - b);
}

const iso = (ms: number) => new Date(ms).toISOString();

function expectExact(expression: string, timezone: string, dst: DstPolicyInput, start: Date, end: Date) {
  const spec = compileToScheduleSpec({ expression, timezone, dst, jitterSeconds: 0 }, { start, end });
  const engine = occurrencesBetween(
    cronSchedule({ expression, timezone, dst }),
    start.getTime() - 1,
    end.getTime() - 1,
  );
  expect(firesOf(spec).map(iso), `${expression} @ ${timezone} ${JSON.stringify(dst)}`).toEqual(
    engine.map((o) => iso(o.at)),
  );
  return spec;
}

describe('compileToScheduleSpec', () => {
  it('is UTC only: no timezone, the window as startAt/endAt, jitter in ms', () => {
    const spec = compileToScheduleSpec(
      { expression: '0 9 * * *', timezone: 'Europe/Berlin', jitterSeconds: 30 },
      { start: new Date('2027-01-01T00:00:00Z'), end: new Date('2027-02-01T00:00:00Z') },
    );
    expect(spec).toEqual({
      calendars: [{ second: 0, minute: 0, hour: 8, dayOfMonth: '*', month: 'JANUARY', year: 2027, dayOfWeek: '*' }],
      startAt: new Date('2027-01-01T00:00:00Z'),
      endAt: new Date('2027-01-31T23:59:59Z'),
      jitter: 30_000,
    });
    expect(spec).not.toHaveProperty('timezone');
  });

  it('refuses a window that is not whole UTC days', () => {
    expect(() =>
      compileToScheduleSpec(
        { expression: '0 9 * * *', timezone: 'UTC', jitterSeconds: 0 },
        { start: new Date('2027-01-01T01:00:00Z'), end: new Date('2027-02-01T00:00:00Z') },
      ),
    ).toThrow(/UTC midnights/);
  });

  // Typical definitions over a 14-month window (what the reconciler compiles), exact and small.
  const window = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2028-01-01T00:00:00Z') };
  it.each([
    ['0 9 * * *', 'UTC', 2],
    ['0 9 * * *', 'Europe/Berlin', 7],
    ['0 9 * * *', 'America/New_York', 8],
    ['0 0 * * *', 'Europe/Berlin', 7],
    ['0 * * * *', 'Europe/Berlin', 2],
    ['*/15 * * * *', 'Europe/Berlin', 2],
    ['*/15 * * * *', 'America/New_York', 3],
    ['0 9 * * MON-FRI', 'Europe/Berlin', 6],
    ['0 9 * * MON-FRI', 'America/New_York', 8],
    ['0 9 1 * MON', 'Europe/Berlin', 9],
    ['0 9 1 * MON', 'UTC', 4],
  ])('%s in %s takes at most %i calendars, and fires exactly the engine’s times', (expression, timezone, most) => {
    const spec = expectExact(expression, timezone, {}, window.start, window.end);
    expect(spec.calendars.length).toBeLessThanOrEqual(most);
  });

  it('fires exactly the engine’s times, for any expression, zone and policy', () => {
    const field = (min: number, max: number) =>
      fc.oneof(
        fc.constant('*'),
        fc.integer({ min: 1, max: 20 }).map((s) => `*/${s}`),
        fc.integer({ min, max }).map(String),
        fc
          .tuple(fc.integer({ min, max }), fc.integer({ min, max }), fc.integer({ min: 1, max: 5 }))
          .map(([a, b, s]) => `${Math.min(a, b)}-${Math.max(a, b)}/${s}`),
        fc.uniqueArray(fc.integer({ min, max }), { minLength: 2, maxLength: 3 }).map((v) => v.join(',')),
      );
    const expression = fc
      .tuple(
        fc.oneof(fc.constantFrom('0', '30', '45', '*/20'), field(0, 59)),
        fc.oneof(fc.constantFrom('0', '1', '2', '23', '0-3', '*'), field(0, 23)),
        fc.oneof({ weight: 2, arbitrary: fc.constant('*') }, field(1, 31), fc.constantFrom('1', '29', '31', '30,31')),
        fc.oneof({ weight: 3, arbitrary: fc.constant('*') }, field(1, 12)),
        fc.oneof({ weight: 2, arbitrary: fc.constant('*') }, field(0, 7), fc.constantFrom('MON-FRI', 'SUN')),
      )
      .map((f) => f.join(' '))
      .filter((e) => {
        const p = parseCron(e);
        return p.ok && !cronNeverFires(p.cron);
      });
    fc.assert(
      fc.property(
        expression,
        fc.constantFrom(...ZONES),
        fc.record({
          gap: fc.constantFrom('shift', 'skip', 'auto'),
          fold: fc.constantFrom('first', 'last', 'both', 'auto'),
        }),
        fc.integer({ min: 0, max: 40 }),
        (e, timezone, dst, month) => {
          // Three months, starting anywhere from 2026 to 2029: every zone's transitions come by.
          const start = new Date(Date.UTC(2026, month, 1));
          const end = new Date(Date.UTC(2026, month + 3, 1));
          expectExact(e, timezone, dst as DstPolicyInput, start, end);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
