import { IANAZone } from 'luxon';
import { type CronTriggerConfig, type ParsedCron, parseCron } from './cron.ts';
import { CoreError, CoreErrorCode } from './errors.ts';
import {
  type Loose,
  type ScheduleRange,
  TEMPORAL_DAYS_OF_WEEK,
  TEMPORAL_MONTHS,
  type TemporalCalendarSpec,
  type TemporalDayOfWeek,
  type TemporalMonth,
  type TemporalScheduleSpec,
} from './schedule-types.ts';
import { compileTemporalSpec } from './temporal-calendar.ts';

/**
 * DST behaviour. `previewSchedule` runs the compiled Schedule spec through a model of
 * Temporal's calendar engine (temporal-calendar.ts), so the preview is what the Schedule does;
 * test/schedules checks it against a real server on 40+ configs around transitions.
 *
 * - **Non-existent local time** (spring forward): our choice. An occurrence whose wall-clock
 *   time falls in the gap fires once at the first instant after the gap (02:30 on the US
 *   spring-forward day fires at 03:00 EDT). Several occurrences in one gap (`*&#47;15 2 * * *`)
 *   collapse into that one firing, which also merges with an occurrence due at that instant
 *   anyway. A daily job never loses a day. Temporal alone would drop such times, so the
 *   compile step adds, for every gap in the horizon where the cron has a time, a one-off
 *   calendar entry pinned to the first wall-clock time after the gap, plus `skip` entries
 *   where Go's normalisation of a non-existent time would fire on its own (30-minute zones).
 * - **Repeated local time** (fall back): Temporal's engine decides, and no spec can change it
 *   (a `skip` entry matches wall-clock fields, so it drops both instants or neither):
 *   - zones behind UTC (the Americas): an occurrence in the repeated hour fires at both
 *     instants (01:30 EDT and 01:30 EST), which get distinct run ids;
 *   - zones ahead of UTC (Europe, Australia, …): it fires once, at the second instant
 *     (02:30 CET, not 02:30 CEST); an hourly job skips the repeated hour's second copy;
 *   Temporal revisits a repeated hour with a fixed one-hour shift; where that lands on times
 *   the cron does not name (minute steps in the repeated hour east of UTC, or 30-minute zones
 *   such as Australia/Lord_Howe, where a 01:15 job then fires once, at +11), the compile step
 *   adds `skip` entries for those wall times: the schedule never fires at a time the
 *   expression does not name.
 *   Jobs that must run exactly once a day should avoid the repeated hour or use UTC.
 */
export type {
  ScheduleRange,
  TemporalCalendarSpec,
  TemporalDayOfWeek,
  TemporalMonth,
  TemporalScheduleSpec,
} from './schedule-types.ts';
export { TEMPORAL_DAYS_OF_WEEK, TEMPORAL_MONTHS } from './schedule-types.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
function parseOrThrow(expression: string): ParsedCron {
  const parsed = parseCron(expression);
  if (!parsed.ok) throw new CoreError(CoreErrorCode.invalidArgument, parsed.error.message);
  return parsed.cron;
}

function zoneOf(timezone: string): IANAZone {
  const zone = IANAZone.create(timezone);
  if (!zone.isValid) throw new CoreError(CoreErrorCode.invalidArgument, `unknown IANA timezone "${timezone}"`);
  return zone;
}

/** Offset in minutes at an instant. */
function offsetAt(zone: IANAZone, ms: number): number {
  return zone.offset(ms);
}

interface CivilDate {
  year: number;
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  /** Date.UTC of the civil midnight: "naive" milliseconds. */
  naive: number;
}

function civilFromNaive(naive: number): CivilDate {
  const d = new Date(naive);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    weekday: d.getUTCDay(),
    naive: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
  };
}

function dayMatches(cron: ParsedCron, date: CivilDate): boolean {
  if (!cron.months.includes(date.month)) return false;
  const dom = cron.daysOfMonth.includes(date.day);
  const dow = cron.daysOfWeek.includes(date.weekday);
  if (cron.domRestricted && cron.dowRestricted) return dom || dow;
  return dom && dow;
}

function wallOf(zone: IANAZone, instant: number): number {
  return instant + offsetAt(zone, instant) * MINUTE;
}

/**
 * Years of DST fix-ups a compiled spec carries, counted from the year it is compiled in.
 * The schedule reconciler re-compiles every year; the preview uses the same horizon, so the
 * two agree for every time in it.
 */
export const SCHEDULE_HORIZON_YEARS = 10;

/**
 * The next `n` fire times strictly after `from`: exactly the nominal times (before jitter) at
 * which the Temporal Schedule compiled by {@link compileToScheduleSpec} fires, DST corners
 * included, because it runs that spec through a model of Temporal's calendar engine. See the
 * module comment for the resulting DST behaviour.
 *
 * @example previewSchedule({ expression: '0 9 * * MON-FRI', timezone: 'Europe/Berlin' }, new Date(), 5)
 */
export function previewSchedule(
  config: Pick<CronTriggerConfig, 'expression' | 'timezone'>,
  from: Date,
  n: number,
): Date[] {
  const fromMs = from.getTime();
  if (Number.isNaN(fromMs)) throw new CoreError(CoreErrorCode.invalidArgument, 'from is not a valid date');
  if (n <= 0) return [];
  const fromYear = from.getUTCFullYear();
  const spec = compileToScheduleSpec(
    { ...config, jitterSeconds: 0 },
    { fromYear, toYear: fromYear + SCHEDULE_HORIZON_YEARS },
  );
  return compileTemporalSpec(spec).next(from, n);
}

/** True when `instant` is one of the schedule's fire times (useful to validate a nominal time). */
export function isScheduledTime(config: Pick<CronTriggerConfig, 'expression' | 'timezone'>, instant: Date): boolean {
  const [next] = previewSchedule(config, new Date(instant.getTime() - 1), 1);
  return next?.getTime() === instant.getTime();
}

function compress(values: readonly number[]): Array<number | ScheduleRange<number>> {
  if (values.length >= 3) {
    const step = (values[1] as number) - (values[0] as number);
    if (values.every((v, i) => i === 0 || v - (values[i - 1] as number) === step)) {
      return [{ start: values[0] as number, end: values[values.length - 1] as number, step }];
    }
  }
  const out: Array<number | ScheduleRange<number>> = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] as number) === (values[j] as number) + 1) j++;
    const start = values[i] as number;
    const end = values[j] as number;
    if (j - i >= 2) out.push({ start, end, step: 1 });
    else for (let k = i; k <= j; k++) out.push(values[k] as number);
    i = j + 1;
  }
  return out;
}

function field<T>(values: readonly number[], full: number, map: (v: number) => T): Loose<T> {
  if (values.length === full) return '*';
  const parts = compress(values).map((p) =>
    typeof p === 'number' ? map(p) : { start: map(p.start), end: map(p.end), step: p.step },
  );
  return parts.length === 1 ? (parts[0] as T | ScheduleRange<T>) : parts;
}

const monthName = (m: number): TemporalMonth => TEMPORAL_MONTHS[m - 1] as TemporalMonth;
const dowName = (d: number): TemporalDayOfWeek => TEMPORAL_DAYS_OF_WEEK[d] as TemporalDayOfWeek;

export interface CompileScheduleOptions {
  /** First year to add DST fix-ups for (default 2000, Temporal's earliest calendar year). */
  fromYear?: number;
  /** Last year to add DST fix-ups for (default 2100, Temporal's latest calendar year). */
  toYear?: number;
}

/**
 * Compiles a cron trigger to a Temporal `ScheduleSpec` built from structured calendars, so
 * that the Schedule fires exactly at {@link previewSchedule}'s times:
 * - POSIX day-of-month OR day-of-week becomes two calendars (Temporal ANDs fields within one);
 * - DST gaps get pinned one-off calendars and skips (see the module comment).
 * Pass `fromYear` (e.g. the current year) to keep the spec short; re-compile before `toYear`.
 */
export function compileToScheduleSpec(
  config: Pick<CronTriggerConfig, 'expression' | 'timezone' | 'jitterSeconds'>,
  options: CompileScheduleOptions = {},
): TemporalScheduleSpec {
  const cron = parseOrThrow(config.expression);
  const zone = zoneOf(config.timezone);
  const base = {
    second: 0,
    minute: field(cron.minutes, 60, (v) => v),
    hour: field(cron.hours, 24, (v) => v),
    month: field(cron.months, 12, monthName),
    year: '*' as const,
  };
  const dom = field(cron.daysOfMonth, 31, (v) => v);
  const dow = field(cron.daysOfWeek, 7, dowName);
  const calendars: TemporalCalendarSpec[] = [];
  if (cron.domRestricted && cron.dowRestricted) {
    calendars.push({ ...base, dayOfMonth: dom, dayOfWeek: '*', comment: `${cron.source} (day-of-month)` });
    calendars.push({ ...base, dayOfMonth: '*', dayOfWeek: dow, comment: `${cron.source} (day-of-week)` });
  } else {
    calendars.push({ ...base, dayOfMonth: dom, dayOfWeek: dow, comment: cron.source });
  }
  const skip: TemporalCalendarSpec[] = [];
  const fromYear = options.fromYear ?? 2000;
  const toYear = options.toYear ?? 2100;
  for (const gap of findGaps(zone, fromYear, toYear)) {
    const fix = gapFixups(cron, zone, gap);
    if (fix.add !== undefined) calendars.push(pinned(fix.add, `${cron.source}: DST gap`));
    for (const s of fix.skip) skip.push(pinned(s, `${cron.source}: DST gap normalisation`));
  }
  const spec: TemporalScheduleSpec = {
    calendars,
    timezone: config.timezone,
    jitter: (config.jitterSeconds ?? 0) * 1000,
  };
  if (skip.length > 0) spec.skip = skip;
  const spurious = spuriousFallBackFires(cron, zone, spec, fromYear, toYear);
  if (spurious.length > 0) {
    spec.skip = [...skip, ...spurious.map((wall) => pinned(wall, `${cron.source}: DST repeat shift`))];
  }
  return spec;
}

function pinned(wallNaive: number, comment: string): TemporalCalendarSpec {
  const d = new Date(wallNaive);
  return {
    second: d.getUTCSeconds(),
    minute: d.getUTCMinutes(),
    hour: d.getUTCHours(),
    dayOfMonth: d.getUTCDate(),
    month: monthName(d.getUTCMonth() + 1),
    year: d.getUTCFullYear(),
    dayOfWeek: '*',
    comment,
  };
}

interface Gap {
  /** Transition instant = first instant after the gap. */
  at: number;
  /** Wall-clock (naive ms) range [start, end) that does not exist. */
  wallStart: number;
  wallEnd: number;
}

/** Spring-forward transitions of `zone` between the years, found by weekly probes and bisection. */
function findGaps(zone: IANAZone, fromYear: number, toYear: number): Gap[] {
  return findTransitions(zone, fromYear, toYear)
    .filter((t) => t.after > t.before)
    .map((t) => ({ at: t.at, wallStart: t.at + t.before * MINUTE, wallEnd: t.at + t.after * MINUTE }));
}

/** Offset changes of `zone` between the years (offsets in minutes), by weekly probes and bisection. */
function findTransitions(
  zone: IANAZone,
  fromYear: number,
  toYear: number,
): Array<{ at: number; before: number; after: number }> {
  const out: Array<{ at: number; before: number; after: number }> = [];
  const end = Date.UTC(toYear + 1, 0, 1);
  const WEEK = 7 * DAY;
  let t = Date.UTC(fromYear, 0, 1) - DAY;
  let offset = offsetAt(zone, t);
  while (t < end) {
    const next = t + WEEK;
    const nextOffset = offsetAt(zone, next);
    if (nextOffset !== offset) {
      let lo = Math.floor(t / MINUTE);
      let hi = Math.ceil(next / MINUTE);
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(zone, mid * MINUTE) === offset) lo = mid;
        else hi = mid;
      }
      const at = hi * MINUTE;
      out.push({ at, before: offset, after: offsetAt(zone, at) });
    }
    t = next;
    offset = nextOffset;
  }
  return out;
}

/**
 * Wall times at which Temporal would fire around a fall-back transition although the cron
 * has no such time: its engine revisits a repeated hour with a fixed one-hour shift, which in
 * a zone that falls back by 30 minutes (Australia/Lord_Howe) lands on times nobody asked for.
 * Skipping them by wall-clock fields is safe: no real occurrence has those fields.
 */
function spuriousFallBackFires(
  cron: ParsedCron,
  zone: IANAZone,
  spec: Pick<TemporalScheduleSpec, 'calendars' | 'skip' | 'timezone'>,
  fromYear: number,
  toYear: number,
): number[] {
  const out: number[] = [];
  const engine = compileTemporalSpec(spec);
  for (const t of findTransitions(zone, fromYear, toYear)) {
    if (t.after >= t.before) continue;
    const around = engine.next(new Date(t.at - 2 * 60 * MINUTE), 500, new Date(t.at + 2 * 60 * MINUTE));
    for (const fire of around) {
      const wall = wallOf(zone, fire.getTime());
      if (!cronMatchesWall(cron, wall) && !out.includes(wall)) out.push(wall);
    }
  }
  return out;
}

function cronMatchesWall(cron: ParsedCron, wallNaive: number): boolean {
  const d = new Date(wallNaive);
  return (
    d.getUTCSeconds() === 0 &&
    cron.minutes.includes(d.getUTCMinutes()) &&
    cron.hours.includes(d.getUTCHours()) &&
    dayMatches(cron, civilFromNaive(wallNaive))
  );
}

/** Go's `time.Date` for a wall time in a gap (what Temporal's calendar code calls). */
function goTimeDate(zone: IANAZone, naive: number): number {
  const first = offsetAt(zone, naive);
  let offset = first;
  if (offsetAt(zone, naive - first * MINUTE) !== first) offset = offsetAt(zone, naive - first * MINUTE);
  return naive - offset * MINUTE;
}

function gapFixups(cron: ParsedCron, zone: IANAZone, gap: Gap): { add?: number; skip: number[] } {
  const swallowed: number[] = [];
  for (let wall = Math.ceil(gap.wallStart / MINUTE) * MINUTE; wall < gap.wallEnd; wall += MINUTE) {
    if (cronMatchesWall(cron, wall)) swallowed.push(wall);
  }
  if (swallowed.length === 0) return { skip: [] };
  const out: { add?: number; skip: number[] } = { skip: [] };
  if (!cronMatchesWall(cron, gap.wallEnd)) out.add = gap.wallEnd;
  for (const wall of swallowed) {
    // Temporal fires at Go's normalised instant when its hour still equals the asked hour.
    const instant = goTimeDate(zone, wall);
    const firedWall = wallOf(zone, instant);
    if (new Date(firedWall).getUTCHours() !== new Date(wall).getUTCHours()) continue;
    if (instant === gap.at || cronMatchesWall(cron, firedWall)) continue;
    if (!out.skip.includes(firedWall)) out.skip.push(firedWall);
  }
  return out;
}
