import { CoreError, CoreErrorCode } from './errors.ts';

/** A change of a zone's UTC offset: from `at` on (inclusive) the offset is `after`. Offsets in ms. */
export interface ZoneTransition {
  readonly at: number;
  readonly before: number;
  readonly after: number;
}

interface YearRules {
  /** Offset in force at 00:00 UTC on 1 January. */
  readonly startOffset: number;
  /** Changes strictly after the year's first instant and before the next year's, ascending. */
  readonly changes: ReadonlyArray<{ readonly at: number; readonly offset: number }>;
}

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/**
 * Probe spacing of the transition search. Two transitions that cancel each other within this
 * spacing would go unseen; the tz database has no such pair (transitions of one zone are weeks
 * apart, the closest pairs a few days).
 */
const PROBE = 12 * HOUR;

const zones = new Map<string, TimeZone>();

/**
 * An IANA time zone as the runtime's tz data (`Intl`, ICU) describes it: UTC offsets and their
 * transitions, found by probing and bisection to the second and cached per year. Pure: no IO,
 * no clock, so it runs inside Temporal workflow code too. The tz data version is that of the
 * runtime (`process.versions.tz` in Node); the edge records it, this module cannot see it.
 */
export class TimeZone {
  readonly name: string;
  readonly #format: Intl.DateTimeFormat;
  readonly #years = new Map<number, YearRules>();

  private constructor(name: string, format: Intl.DateTimeFormat) {
    this.name = name;
    this.#format = format;
  }

  /** The zone named `name`; throws a `CoreError` (invalid_argument) for a name the tz data lacks. */
  static of(name: string): TimeZone {
    const cached = zones.get(name);
    if (cached) return cached;
    let format: Intl.DateTimeFormat;
    try {
      if (name === '' || name.length > 64) throw new RangeError('bad length');
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: name,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new CoreError(CoreErrorCode.invalidArgument, `unknown IANA timezone "${name}"`);
    }
    const zone = new TimeZone(name, format);
    zones.set(name, zone);
    return zone;
  }

  /** UTC offset (ms) in force at `instant`. */
  offsetAt(instant: number): number {
    const rules = this.#yearRules(new Date(instant).getUTCFullYear());
    let offset = rules.startOffset;
    for (const change of rules.changes) {
      if (change.at > instant) break;
      offset = change.offset;
    }
    return offset;
  }

  /** Wall-clock time at `instant`, as milliseconds of the same fields read as UTC. */
  wallAt(instant: number): number {
    return instant + this.offsetAt(instant);
  }

  /** Offset changes with `from <= at < to`, ascending. */
  transitions(from: number, to: number): ZoneTransition[] {
    const out: ZoneTransition[] = [];
    const firstYear = new Date(from).getUTCFullYear();
    const lastYear = new Date(to).getUTCFullYear();
    const before = this.#yearRules(firstYear - 1);
    let offset = before.changes.at(-1)?.offset ?? before.startOffset;
    for (let year = firstYear; year <= lastYear; year++) {
      const rules = this.#yearRules(year);
      const yearStart = Date.UTC(year, 0, 1);
      if (rules.startOffset !== offset && yearStart >= from && yearStart < to) {
        out.push({ at: yearStart, before: offset, after: rules.startOffset });
      }
      offset = rules.startOffset;
      for (const change of rules.changes) {
        if (change.at >= from && change.at < to) out.push({ at: change.at, before: offset, after: change.offset });
        offset = change.offset;
      }
    }
    return out;
  }

  /** Offset straight from the tz data, for the second containing `instant`. */
  #probe(instant: number): number {
    const second = Math.floor(instant / SECOND) * SECOND;
    const fields: Record<string, string> = {};
    for (const part of this.#format.formatToParts(second)) fields[part.type] = part.value;
    const year = fields.era === 'BC' ? 1 - Number(fields.year) : Number(fields.year);
    const wall = new Date(
      Date.UTC(2000, Number(fields.month) - 1, Number(fields.day), Number(fields.hour), Number(fields.minute)),
    );
    // setUTCFullYear, because Date.UTC reads years 0-99 as 1900-1999.
    wall.setUTCFullYear(year, Number(fields.month) - 1, Number(fields.day));
    return wall.getTime() + Number(fields.second) * SECOND - second;
  }

  #yearRules(year: number): YearRules {
    const cached = this.#years.get(year);
    if (cached) return cached;
    const start = Date.UTC(year, 0, 1);
    const end = Date.UTC(year + 1, 0, 1);
    const startOffset = this.#probe(start);
    const changes: Array<{ at: number; offset: number }> = [];
    let lo = start;
    let loOffset = startOffset;
    while (lo < end) {
      const hi = Math.min(lo + PROBE, end);
      const hiOffset = this.#probe(hi);
      // Every change inside (lo, hi]: bisect to the first second of the next offset, repeat.
      let from = lo;
      let fromOffset = loOffset;
      while (fromOffset !== hiOffset) {
        let a = from / SECOND;
        let b = hi / SECOND;
        while (b - a > 1) {
          const mid = Math.floor((a + b) / 2);
          if (this.#probe(mid * SECOND) === fromOffset) a = mid;
          else b = mid;
        }
        const at = b * SECOND;
        const offset = this.#probe(at);
        if (at < end) changes.push({ at, offset });
        from = at;
        fromOffset = offset;
      }
      lo = hi;
      loOffset = hiOffset;
    }
    const rules: YearRules = { startOffset, changes };
    this.#years.set(year, rules);
    return rules;
  }
}

/** True when a timezone name is known to this runtime's IANA database (via `Intl`, no IO). */
export function isValidTimezone(timezone: string): boolean {
  try {
    TimeZone.of(timezone);
    return true;
  } catch {
    return false;
  }
}

export const MS_PER_DAY = DAY;
