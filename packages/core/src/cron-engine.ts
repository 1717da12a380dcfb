import { type CronTriggerConfig, DstPolicy, type DstPolicyInput, type ParsedCron, parseCron } from './cron.ts';
import { CoreError, CoreErrorCode } from './errors.ts';
import { MS_PER_DAY, TimeZone, type ZoneTransition } from './time-zone.ts';

/**
 * The local-time engine: the one place that decides when a cron trigger fires. Preview, misfire
 * decisions, backfill counts and the compiled Temporal Schedule all derive from it.
 *
 * It walks local calendar days of the trigger's zone (so day-of-month and day-of-week are those
 * of the local date, whatever happens at midnight), takes every named wall-clock time of a
 * matching day, and resolves it to instants with the zone's offsets:
 * - a wall time that exists once fires at its instant;
 * - a wall time inside a gap (spring forward) fires at the gap's end (`gap: 'shift'`) or not
 *   at all (`'skip'`);
 * - a wall time inside a fold (fall back) fires at its first instant, its second, or both.
 * Fires at the same instant are one occurrence. Pure: no IO and no clock.
 */

export type GapPolicy = 'shift' | 'skip';
export type FoldPolicy = 'first' | 'last' | 'both';

/** A DST policy with `auto` resolved for one expression. */
export interface ResolvedDstPolicy {
  readonly gap: GapPolicy;
  readonly fold: FoldPolicy;
}

/** Resolves `auto` per side: wildcard jobs follow the clock, fixed-time jobs run once. */
export function resolveDstPolicy(cron: ParsedCron, dst: DstPolicyInput | undefined): ResolvedDstPolicy {
  const policy = DstPolicy.parse(dst ?? {});
  return {
    gap: policy.gap === 'auto' ? (cron.wildcardTime ? 'skip' : 'shift') : policy.gap,
    fold: policy.fold === 'auto' ? (cron.wildcardTime ? 'both' : 'first') : policy.fold,
  };
}

/** A cron trigger ready to evaluate: parsed expression, zone rules and resolved DST policy. */
export interface CronSchedule {
  readonly cron: ParsedCron;
  readonly zone: TimeZone;
  readonly dst: ResolvedDstPolicy;
  /** Day-level matchers, indexed by value. */
  readonly month: readonly boolean[];
  readonly dom: readonly boolean[];
  readonly dow: readonly boolean[];
  /** Minutes of the day the expression names (hour × 60 + minute), ascending. */
  readonly times: readonly number[];
}

export type CronScheduleConfig = Pick<CronTriggerConfig, 'expression' | 'timezone'> & { dst?: DstPolicyInput };

function mask(values: readonly number[], size: number): boolean[] {
  const out = new Array<boolean>(size).fill(false);
  for (const v of values) out[v] = true;
  return out;
}

/** Parses and resolves a cron trigger; throws a `CoreError` (invalid_argument) naming what is wrong. */
export function cronSchedule(config: CronScheduleConfig): CronSchedule {
  const parsed = parseCron(config.expression);
  if (!parsed.ok) throw new CoreError(CoreErrorCode.invalidArgument, parsed.error.message);
  const cron = parsed.cron;
  const zone = TimeZone.of(config.timezone);
  const times: number[] = [];
  for (const h of cron.hours) for (const m of cron.minutes) times.push(h * 60 + m);
  return {
    cron,
    zone,
    dst: resolveDstPolicy(cron, config.dst),
    month: mask(cron.months, 13),
    dom: mask(cron.daysOfMonth, 32),
    dow: mask(cron.daysOfWeek, 7),
    times,
  };
}

/** POSIX day rule on a civil date: both day fields restricted → either matches; else both must. */
export function dayMatches(schedule: CronSchedule, month: number, day: number, weekday: number): boolean {
  if (!schedule.month[month]) return false;
  const dom = schedule.dom[day] === true;
  const dow = schedule.dow[weekday] === true;
  return schedule.cron.domRestricted && schedule.cron.dowRestricted ? dom || dow : dom && dow;
}

/** How the DST policy touched an occurrence. */
export type OccurrenceKind = 'exact' | 'shifted' | 'repeated';

/** One fire of a cron trigger. Instants and wall times are epoch milliseconds. */
export interface Occurrence {
  /** The instant it fires (before jitter). */
  readonly at: number;
  /**
   * `exact`: a named local time that exists once. `repeated`: one instant of a named local time
   * that occurs twice (see `fold`). `shifted`: named local times inside a gap fire here, at the
   * gap's end (see `shiftedFrom`), possibly together with a named time that exists.
   */
  readonly kind: OccurrenceKind;
  /** For `repeated`: which instant of the repeated local time this is. */
  readonly fold?: 'first' | 'second';
  /** For `shifted`: the named local wall times that do not exist (fields read as UTC). */
  readonly shiftedFrom?: readonly number[];
}

const MINUTE = 60_000;

/** Instants whose wall time is `wall` (0, 1 or 2 of them), ascending, using `transitions` nearby. */
function resolveWall(zone: TimeZone, wall: number, transitions: readonly ZoneTransition[]): number[] {
  const offsets = new Set<number>([zone.offsetAt(wall - MS_PER_DAY)]);
  for (const t of transitions) if (t.at > wall - MS_PER_DAY && t.at <= wall + MS_PER_DAY) offsets.add(t.after);
  const out: number[] = [];
  for (const offset of offsets) {
    const instant = wall - offset;
    if (zone.offsetAt(instant) === offset && !out.includes(instant)) out.push(instant);
  }
  return out.sort((a, b) => a - b);
}

/** The first instant after the gap that swallows `wall` (the transition whose jump spans it). */
function gapEnd(wall: number, transitions: readonly ZoneTransition[]): number {
  for (const t of transitions) {
    if (t.after > t.before && t.at + t.before <= wall && wall < t.at + t.after) return t.at;
  }
  throw new CoreError(CoreErrorCode.invariant, `no DST gap found around ${new Date(wall).toISOString()}`);
}

interface Draft {
  at: number;
  kind: OccurrenceKind;
  fold?: 'first' | 'second';
  shiftedFrom?: number[];
}

function add(out: Map<number, Draft>, draft: Draft): void {
  const existing = out.get(draft.at);
  if (!existing) {
    out.set(draft.at, draft);
    return;
  }
  // One instant, one fire: a shift into an instant that fires anyway marks it shifted.
  if (draft.shiftedFrom) {
    existing.shiftedFrom = [...(existing.shiftedFrom ?? []), ...draft.shiftedFrom];
    existing.kind = 'shifted';
  }
}

/** Occurrences named on the local date whose midnight (read as UTC) is `dayStart`. */
function dayOccurrences(schedule: CronSchedule, dayStart: number, out: Map<number, Draft>): void {
  const date = new Date(dayStart);
  if (!dayMatches(schedule, date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCDay())) return;
  const { zone, dst } = schedule;
  const nearby = zone.transitions(dayStart - 2 * MS_PER_DAY, dayStart + 3 * MS_PER_DAY);
  if (nearby.length === 0) {
    const offset = zone.offsetAt(dayStart);
    for (const t of schedule.times) add(out, { at: dayStart + t * MINUTE - offset, kind: 'exact' });
    return;
  }
  for (const t of schedule.times) {
    const wall = dayStart + t * MINUTE;
    const instants = resolveWall(zone, wall, nearby);
    if (instants.length === 1) {
      add(out, { at: instants[0] as number, kind: 'exact' });
    } else if (instants.length === 0) {
      if (dst.gap === 'shift') add(out, { at: gapEnd(wall, nearby), kind: 'shifted', shiftedFrom: [wall] });
    } else {
      const first = instants[0] as number;
      const second = instants[instants.length - 1] as number;
      if (dst.fold !== 'last') add(out, { at: first, kind: 'repeated', fold: 'first' });
      if (dst.fold !== 'first') add(out, { at: second, kind: 'repeated', fold: 'second' });
    }
  }
}

/** Local midnight (fields read as UTC) of the local date at `instant`, shifted by `days`. */
function localDayStart(zone: TimeZone, instant: number, days = 0): number {
  const wall = zone.wallAt(instant);
  return Math.floor(wall / MS_PER_DAY) * MS_PER_DAY + days * MS_PER_DAY;
}

function freeze(d: Draft): Occurrence {
  return {
    at: d.at,
    kind: d.kind,
    ...(d.fold ? { fold: d.fold } : {}),
    ...(d.shiftedFrom ? { shiftedFrom: [...d.shiftedFrom].sort((a, b) => a - b) } : {}),
  };
}

/**
 * Local dates never produce instants more than this far before their midnight read as UTC (the
 * largest offset is +14 h), nor after the next midnight (the smallest is −12 h, plus a gap).
 */
const SPREAD = 2 * MS_PER_DAY;
/** Searching further than this finds nothing new: every (month, day, weekday) recurs within it. */
const SEARCH_LIMIT = 60 * 366 * MS_PER_DAY;

/** Every occurrence with `after < at <= until`, ascending. */
export function occurrencesBetween(schedule: CronSchedule, after: number, until: number): Occurrence[] {
  if (!(until > after)) return [];
  const drafts = new Map<number, Draft>();
  const lastDay = localDayStart(schedule.zone, until, 1);
  for (let day = localDayStart(schedule.zone, after, -1); day <= lastDay; day += MS_PER_DAY) {
    dayOccurrences(schedule, day, drafts);
  }
  return [...drafts.values()]
    .filter((d) => d.at > after && d.at <= until)
    .sort((a, b) => a.at - b.at)
    .map(freeze);
}

/** The first `n` occurrences strictly after `after`, ascending (fewer if none within 60 years). */
export function nextOccurrences(schedule: CronSchedule, after: number, n: number): Occurrence[] {
  const out: Occurrence[] = [];
  if (n <= 0) return out;
  const drafts = new Map<number, Draft>();
  const limit = after + SEARCH_LIMIT;
  for (let day = localDayStart(schedule.zone, after, -1); ; day += MS_PER_DAY) {
    dayOccurrences(schedule, day, drafts);
    // Later local dates cannot produce an instant before this.
    const settled = day + MS_PER_DAY - SPREAD;
    if (drafts.size > 0) {
      const ready = [...drafts.values()].filter((d) => d.at <= settled).sort((a, b) => a.at - b.at);
      for (const d of ready) {
        drafts.delete(d.at);
        if (d.at > after) out.push(freeze(d));
        if (out.length === n) return out;
      }
    }
    if (day > limit) return out;
  }
}
