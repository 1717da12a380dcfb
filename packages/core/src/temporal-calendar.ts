import { IANAZone } from 'luxon';
import { CoreError, CoreErrorCode } from './errors.ts';
import type { ScheduleRange, TemporalCalendarSpec, TemporalScheduleSpec } from './schedule-types.ts';
import { TEMPORAL_DAYS_OF_WEEK, TEMPORAL_MONTHS } from './schedule-types.ts';

/**
 * A model of how a Temporal server (1.2x, `service/worker/scheduler/calendar.go` and
 * `spec.go`) turns a Schedule spec of structured calendars into fire times. It exists so that
 * `previewSchedule` can answer with what the Schedule will really do, DST corners included,
 * instead of with a second opinion that might disagree.
 *
 * The model follows the server's documented algorithm: calendars are matched field by field
 * on wall-clock time in the spec's zone, one second resolution; a wall time is turned into an
 * instant the way Go's `time.Date` does (for a repeated wall time, the offset in force at the
 * wall time read as UTC wins; for a skipped one, the time is pushed through the gap and
 * dropped when that changes the hour); the server then revisits a repeated hour once with a
 * fixed one-hour shift. Skip entries remove any time whose wall-clock fields they match.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const MIN_YEAR = 2000;
const MAX_YEAR = 2100;

type Matcher = (value: number) => boolean;

interface CompiledCalendar {
  readonly year: Matcher;
  readonly month: Matcher;
  readonly dayOfMonth: Matcher;
  readonly dayOfWeek: Matcher;
  readonly hour: Matcher;
  readonly minute: Matcher;
  readonly second: Matcher;
}

type FieldValue<T> = T | ScheduleRange<T> | ReadonlyArray<T | ScheduleRange<T>> | '*' | undefined;

function toNumber<T>(value: T, names: readonly string[] | undefined, offset: number): number {
  if (typeof value === 'number') return value;
  const index = names?.indexOf(String(value)) ?? -1;
  if (index < 0) throw new CoreError(CoreErrorCode.invalidArgument, `unknown calendar value ${String(value)}`);
  return index + offset;
}

/** Builds a matcher like the server's, applying the TS client's defaults for absent fields. */
function matcher<T>(
  value: FieldValue<T>,
  defaultAll: boolean,
  min: number,
  max: number,
  names?: readonly string[],
  nameOffset = 0,
): Matcher {
  if (value === undefined) return defaultAll ? () => true : (v) => v === 0;
  if (value === '*') return () => true;
  const parts = Array.isArray(value) ? value : [value];
  const allowed = new Set<number>();
  for (const part of parts as ReadonlyArray<T | ScheduleRange<T>>) {
    if (typeof part === 'object' && part !== null && 'start' in part) {
      const start = toNumber(part.start, names, nameOffset);
      const end = Math.max(start, toNumber(part.end ?? part.start, names, nameOffset));
      const step = part.step && part.step > 0 ? part.step : 1;
      for (let v = start; v <= Math.min(end, max); v += step) allowed.add(v);
    } else {
      allowed.add(toNumber(part as T, names, nameOffset));
    }
  }
  if (allowed.has(7) && names === TEMPORAL_DAYS_OF_WEEK) allowed.add(0);
  void min;
  return (v) => allowed.has(v);
}

function compileCalendar(cal: TemporalCalendarSpec): CompiledCalendar {
  return {
    year: matcher(cal.year, true, MIN_YEAR, MAX_YEAR),
    month: matcher(cal.month, true, 1, 12, TEMPORAL_MONTHS, 1),
    dayOfMonth: matcher(cal.dayOfMonth, true, 1, 31),
    dayOfWeek: matcher(cal.dayOfWeek, true, 0, 7, TEMPORAL_DAYS_OF_WEEK, 0),
    hour: matcher(cal.hour, false, 0, 23),
    minute: matcher(cal.minute, false, 0, 59),
    second: matcher(cal.second, false, 0, 59),
  };
}

interface Wall {
  y: number;
  mo: number;
  d: number;
  h: number;
  m: number;
  s: number;
  weekday: number;
}

class Zone {
  readonly #zone: IANAZone;
  constructor(name: string) {
    const zone = IANAZone.create(name);
    if (!zone.isValid) throw new CoreError(CoreErrorCode.invalidArgument, `unknown IANA timezone "${name}"`);
    this.#zone = zone;
  }

  offsetMs(instant: number): number {
    return this.#zone.offset(instant) * MINUTE;
  }

  /** `t.In(tz)` and its calendar fields. */
  wall(instant: number): Wall {
    const d = new Date(instant + this.offsetMs(instant));
    return {
      y: d.getUTCFullYear(),
      mo: d.getUTCMonth() + 1,
      d: d.getUTCDate(),
      h: d.getUTCHours(),
      m: d.getUTCMinutes(),
      s: d.getUTCSeconds(),
      weekday: d.getUTCDay(),
    };
  }

  /**
   * Go's `time.Date(y, mo, d, h, m, s, 0, tz)`: out-of-range fields carry over; the wall time
   * read as UTC picks the zone period, corrected once if the result falls outside it.
   */
  date(y: number, mo: number, d: number, h: number, m: number, s: number): number {
    const naive = Date.UTC(y, mo - 1, d, h, m, s);
    const offset = this.offsetMs(naive);
    const utc = naive - offset;
    return this.offsetMs(utc) === offset ? utc : naive - this.offsetMs(utc);
  }
}

function daysInMonth(mo: number, y: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** The server's `compiledCalendar.next`: the earliest matching instant after `after`. */
function nextOfCalendar(
  cc: CompiledCalendar,
  zone: Zone,
  after: number,
  until = Number.POSITIVE_INFINITY,
): number | undefined {
  let { y, mo, d, h, m, s } = zone.wall(after);
  let dstOffset = 0;
  if (zone.wall(after - HOUR).h === h) dstOffset = HOUR;
  s++;
  for (;;) {
    if (s >= 60) {
      m++;
      s = 0;
    }
    if (m >= 60) {
      const prev = zone.date(y, mo, d, h, 0, 0);
      h++;
      m = 0;
      const next = zone.date(y, mo, d, h, 0, 0);
      if (dstOffset === 0 && next - prev > HOUR) {
        h--;
        dstOffset = HOUR;
      } else {
        dstOffset = 0;
      }
    }
    if (h >= 24) {
      d++;
      h = 0;
    }
    if (d > daysInMonth(mo, y)) {
      mo++;
      d = 1;
    }
    if (mo > 12) {
      y++;
      mo = 1;
    }
    if (y > MAX_YEAR) return undefined;
    // A bounded search (DST look-arounds) stops once the wall date is a day past the bound.
    if (Date.UTC(y, mo - 1, d) > until + 86_400_000) return undefined;
    if (!cc.year(y)) {
      y++;
      mo = 1;
      d = 1;
      h = 0;
      m = 0;
      s = 0;
      dstOffset = 0;
      continue;
    }
    let restart = false;
    while (!cc.month(mo)) {
      mo++;
      d = 1;
      h = 0;
      m = 0;
      s = 0;
      dstOffset = 0;
      if (mo > 12) {
        restart = true;
        break;
      }
    }
    if (restart) continue;
    while (!cc.dayOfMonth(d) || !cc.dayOfWeek(zone.wall(zone.date(y, mo, d, h, m, s)).weekday)) {
      d++;
      h = 0;
      m = 0;
      s = 0;
      dstOffset = 0;
      if (d > daysInMonth(mo, y)) {
        restart = true;
        break;
      }
    }
    if (restart) continue;
    while (!cc.hour(h)) {
      h++;
      m = 0;
      s = 0;
      dstOffset = 0;
      if (h >= 24) {
        restart = true;
        break;
      }
    }
    if (restart) continue;
    while (!cc.minute(m)) {
      m++;
      s = 0;
      if (m >= 60) {
        restart = true;
        break;
      }
    }
    if (restart) continue;
    while (!cc.second(s)) {
      s++;
      if (s >= 60) {
        restart = true;
        break;
      }
    }
    if (restart) continue;
    const instant = zone.date(y, mo, d, h, m, s);
    if (zone.wall(instant).h !== h) {
      // A wall time swallowed by a DST gap.
      h++;
      m = 0;
      s = 0;
      continue;
    }
    return instant + dstOffset;
  }
}

function matchesCalendar(cc: CompiledCalendar, zone: Zone, instant: number): boolean {
  const w = zone.wall(instant);
  return (
    cc.year(w.y) &&
    cc.month(w.mo) &&
    cc.dayOfMonth(w.d) &&
    cc.dayOfWeek(w.weekday) &&
    cc.hour(w.h) &&
    cc.minute(w.m) &&
    cc.second(w.s)
  );
}

export interface CompiledTemporalSpec {
  /** Nominal fire times (before jitter) strictly after `after`, at most `n`, none after `until`. */
  next(after: Date, n: number, until?: Date): Date[];
}

/**
 * Compiles a Schedule spec (structured calendars, skips, timezone; `startAt`/`endAt` given
 * separately) into the fire-time function the server would use. Intervals are not modelled:
 * activity-core never emits them.
 */
export function compileTemporalSpec(
  spec: Pick<TemporalScheduleSpec, 'calendars' | 'skip' | 'timezone'>,
  window: { startAt?: Date; endAt?: Date } = {},
): CompiledTemporalSpec {
  const zone = new Zone(spec.timezone);
  const calendars = spec.calendars.map(compileCalendar);
  const skips = (spec.skip ?? []).map(compileCalendar);
  const rawNext = (after: number, until: number): number | undefined => {
    let best: number | undefined;
    for (const cc of calendars) {
      const t = nextOfCalendar(cc, zone, after, until);
      if (t !== undefined && (best === undefined || t < best)) best = t;
    }
    return best;
  };
  return {
    next(afterDate, n, untilDate) {
      const out: Date[] = [];
      // The server works in whole seconds.
      let after = Math.floor(afterDate.getTime() / SECOND) * SECOND;
      const startAt = window.startAt?.getTime();
      if (startAt !== undefined && after < startAt) after = startAt - SECOND;
      const endAt = Math.min(
        window.endAt?.getTime() ?? Number.POSITIVE_INFINITY,
        untilDate?.getTime() ?? Number.POSITIVE_INFINITY,
      );
      while (out.length < n) {
        let nominal: number | undefined;
        do {
          nominal = rawNext(after, endAt);
          if (nominal === undefined) return out;
          after = nominal;
        } while (skips.some((cc) => matchesCalendar(cc, zone, nominal as number)));
        if (nominal > endAt) return out;
        out.push(new Date(nominal));
      }
      return out;
    },
  };
}
