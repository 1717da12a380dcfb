import type { CronTriggerConfig, DstPolicyInput } from './cron.ts';
import {
  type CronSchedule,
  type CronScheduleConfig,
  cronSchedule,
  dayMatches,
  nextOccurrences,
  type Occurrence,
  occurrencesBetween,
  type ResolvedDstPolicy,
} from './cron-engine.ts';
import { assertNever, CoreError, CoreErrorCode } from './errors.ts';
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
import { MS_PER_DAY } from './time-zone.ts';

/**
 * Previews and compiles cron triggers, both from the local-time engine (cron-engine.ts).
 *
 * The compiled Temporal Schedule never makes Temporal interpret local time: its calendars are
 * in UTC (no `timezone`), with explicit years, months and days, valid over a window (a horizon
 * the schedule reconciler renews). Over that window the UTC days split into:
 * - days on which the zone's offset is constant and no DST change has any effect: their fire
 *   times are the expression's local times moved by that offset, compiled as structured
 *   calendars per run of such days (day-of-week and day-of-month structure kept, the day
 *   shift of times that cross UTC midnight accounted for);
 * - days a transition touches (the transition, and a fold's repeated instants): their fire
 *   times are taken from the engine one by one and pinned.
 * A final pass merges calendars that differ in one field only. Every calendar is checked against
 * the engine as it is built, so the Schedule fires exactly the engine's occurrences.
 */

export type {
  ScheduleRange,
  TemporalCalendarSpec,
  TemporalDayOfWeek,
  TemporalMonth,
  TemporalScheduleSpec,
} from './schedule-types.ts';
export { TEMPORAL_DAYS_OF_WEEK, TEMPORAL_MONTHS } from './schedule-types.ts';

type PreviewConfig = CronScheduleConfig;

function validFrom(from: Date): number {
  const ms = from.getTime();
  if (Number.isNaN(ms)) throw new CoreError(CoreErrorCode.invalidArgument, 'from is not a valid date');
  return ms;
}

/**
 * The next `n` fire times strictly after `from` (nominal, before jitter), as the engine decides
 * them: the times the compiled Schedule fires.
 *
 * @example previewSchedule({ expression: '0 9 * * MON-FRI', timezone: 'Europe/Berlin' }, new Date(), 5)
 */
export function previewSchedule(config: PreviewConfig, from: Date, n: number): Date[] {
  return nextOccurrences(cronSchedule(config), validFrom(from), n).map((o) => new Date(o.at));
}

/** One previewed fire, with what the DST policy did to it. */
export interface PreviewOccurrence {
  /** The instant, ISO 8601 UTC. */
  readonly at: string;
  /** The local wall time at that instant with its offset, e.g. `2027-03-14T03:00:00-04:00`. */
  readonly local: string;
  /**
   * Set when the DST policy touched this fire: `shifted` (named local times that do not exist
   * fire here, at the end of the gap; listed in `shiftedFrom`), `repeated` (a named local time
   * that occurs twice; `fold` says which instant this is).
   */
  readonly dst?: 'shifted' | 'repeated';
  readonly shiftedFrom?: readonly string[];
  readonly fold?: 'first' | 'second';
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function wallString(wall: number, seconds: boolean): string {
  const d = new Date(wall);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return `${date}T${time}${seconds ? `:${pad(d.getUTCSeconds())}` : ''}`;
}

function offsetString(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const minutes = Math.abs(Math.round(offsetMs / 60_000));
  return `${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

function toPreview(schedule: CronSchedule, o: Occurrence): PreviewOccurrence {
  const offset = schedule.zone.offsetAt(o.at);
  const base = { at: new Date(o.at).toISOString(), local: `${wallString(o.at + offset, true)}${offsetString(offset)}` };
  switch (o.kind) {
    case 'exact':
      return base;
    case 'repeated':
      return { ...base, dst: 'repeated', ...(o.fold ? { fold: o.fold } : {}) };
    case 'shifted':
      return { ...base, dst: 'shifted', shiftedFrom: (o.shiftedFrom ?? []).map((w) => wallString(w, false)) };
    default:
      return assertNever(o.kind, 'occurrence kind');
  }
}

/** {@link previewSchedule} with each fire's local time and DST marks, and the resolved policy. */
export function previewOccurrences(
  config: PreviewConfig,
  from: Date,
  n: number,
): { dst: ResolvedDstPolicy; occurrences: PreviewOccurrence[] } {
  const schedule = cronSchedule(config);
  return {
    dst: schedule.dst,
    occurrences: nextOccurrences(schedule, validFrom(from), n).map((o) => toPreview(schedule, o)),
  };
}

/** True when `instant` is one of the trigger's fire times (useful to validate a nominal time). */
export function isScheduledTime(config: PreviewConfig, instant: Date): boolean {
  const ms = validFrom(instant);
  return occurrencesBetween(cronSchedule(config), ms - 1, ms).length === 1;
}

/** The UTC interval a compiled spec covers: `start` inclusive, `end` exclusive, both UTC midnights. */
export interface CompileWindow {
  readonly start: Date;
  readonly end: Date;
}

export type CompileConfig = Pick<CronTriggerConfig, 'expression' | 'timezone' | 'jitterSeconds'> & {
  dst?: DstPolicyInput;
};

/**
 * Compiles a cron trigger into a Temporal `ScheduleSpec` in UTC that fires exactly the engine's
 * occurrences inside `window` and nothing outside it (`startAt`/`endAt` are the window). The
 * server's tz database and DST logic are never consulted. Renew before `window.end`.
 */
export function compileToScheduleSpec(config: CompileConfig, window: CompileWindow): TemporalScheduleSpec {
  const schedule = cronSchedule(config);
  const start = window.start.getTime();
  const end = window.end.getTime();
  if (Number.isNaN(start) || Number.isNaN(end) || start % MS_PER_DAY !== 0 || end % MS_PER_DAY !== 0 || end <= start) {
    throw new CoreError(CoreErrorCode.invalidArgument, 'compile window: start < end, both UTC midnights');
  }
  const calendars = mergeCalendars(compileCalendars(schedule, start / MS_PER_DAY, end / MS_PER_DAY)).map(toTemporal);
  return {
    calendars,
    startAt: new Date(start),
    endAt: new Date(end - 1000),
    jitter: (config.jitterSeconds ?? 0) * 1000,
  };
}

/** A calendar as sets: it matches the instants whose UTC fields are all in their sets. */
interface Cal {
  year: number[];
  month: number[];
  dom: number[];
  dow: number[];
  hour: number[];
  minute: number[];
}
type CalField = keyof Cal;
const CAL_FIELDS: readonly CalField[] = ['year', 'month', 'dom', 'dow', 'hour', 'minute'];

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ALL_MONTHS = range(1, 12);
const ALL_DOMS = range(1, 31);
const ALL_DOWS = range(0, 6);
const FULL: Record<Exclude<CalField, 'year'>, number> = { month: 12, dom: 31, dow: 7, hour: 24, minute: 60 };

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** UTC day index (days since the epoch) → civil fields. */
function civil(day: number): { year: number; month: number; dom: number; dow: number } {
  const d = new Date(day * MS_PER_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, dom: d.getUTCDate(), dow: d.getUTCDay() };
}

function compileCalendars(schedule: CronSchedule, firstDay: number, endDay: number): Cal[] {
  const { zone } = schedule;
  const transitions = zone.transitions((firstDay - 2) * MS_PER_DAY, (endDay + 2) * MS_PER_DAY);
  // Days a transition touches: the transition's own, and those of a fold's repeated instants.
  const special = new Set<number>();
  for (const t of transitions) {
    const reach = Math.max(0, t.before - t.after);
    for (let day = Math.floor((t.at - reach) / MS_PER_DAY); day <= Math.floor((t.at + reach) / MS_PER_DAY); day++) {
      special.add(day);
    }
  }
  const out: Cal[] = [];
  let runStart: number | undefined;
  let runOffset = 0;
  const flush = (runEnd: number): void => {
    if (runStart === undefined) return;
    out.push(...runCalendars(schedule, runOffset, runStart, runEnd));
    runStart = undefined;
  };
  for (let day = firstDay; day < endDay; day++) {
    const offset = zone.offsetAt(day * MS_PER_DAY);
    // Offsets with seconds (local mean time, before 1972) do not keep minutes: pin those days.
    if (special.has(day) || offset % 60_000 !== 0) {
      flush(day - 1);
      out.push(...pinnedDay(schedule, day));
      continue;
    }
    if (runStart !== undefined && offset !== runOffset) flush(day - 1);
    if (runStart === undefined) {
      runStart = day;
      runOffset = offset;
    }
  }
  flush(endDay - 1);
  return out;
}

/** Hours × minutes products that cover exactly `times` (minutes of the day). */
function timeProducts(times: Iterable<number>): Array<{ hour: number[]; minute: number[] }> {
  const byHour = new Map<number, number[]>();
  for (const t of times) {
    const hour = Math.floor(t / 60);
    const minutes = byHour.get(hour) ?? [];
    minutes.push(t % 60);
    byHour.set(hour, minutes);
  }
  const byMinutes = new Map<string, { hour: number[]; minute: number[] }>();
  for (const [hour, minutes] of [...byHour].sort((a, b) => a[0] - b[0])) {
    const minute = [...new Set(minutes)].sort((a, b) => a - b);
    const key = minute.join(',');
    const product = byMinutes.get(key) ?? { hour: [], minute };
    product.hour.push(hour);
    byMinutes.set(key, product);
  }
  return [...byMinutes.values()];
}

/** A transition day: the engine's fires on it, pinned to the date. */
function pinnedDay(schedule: CronSchedule, day: number): Cal[] {
  const fires = occurrencesBetween(schedule, day * MS_PER_DAY - 1, (day + 1) * MS_PER_DAY - 1);
  if (fires.length === 0) return [];
  const { year, month, dom } = civil(day);
  const times = fires.map((o) => Math.floor((o.at - day * MS_PER_DAY) / 60_000));
  if (fires.some((o) => o.at % 60_000 !== 0)) {
    throw new CoreError(CoreErrorCode.invariant, `${schedule.zone.name}: a fire at a fractional minute`);
  }
  return timeProducts(times).map((p) => ({ year: [year], month: [month], dom: [dom], dow: ALL_DOWS, ...p }));
}

interface Box {
  readonly year: number;
  readonly months: number[];
  readonly domFrom: number;
  readonly domTo: number;
}

/** Splits the UTC days [first, last] into boxes of whole months or parts of one month. */
function boxes(first: number, last: number): Box[] {
  const out: Box[] = [];
  let day = first;
  while (day <= last) {
    const { year, month, dom } = civil(day);
    const monthEnd = day + daysInMonth(year, month) - dom;
    if (dom === 1 && monthEnd <= last) {
      let toMonth = month;
      let next = monthEnd + 1;
      while (toMonth < 12 && next + daysInMonth(year, toMonth + 1) - 1 <= last) {
        toMonth++;
        next += daysInMonth(year, toMonth);
      }
      out.push({ year, months: range(month, toMonth), domFrom: 1, domTo: 31 });
      day = next;
    } else {
      const to = Math.min(last, monthEnd);
      out.push({ year, months: [month], domFrom: dom, domTo: dom + (to - day) });
      day = to + 1;
    }
  }
  return out;
}

/** A set of dates of one year: months × days of month × weekdays (real dates only). */
interface DateProduct {
  months: number[];
  doms: number[];
  dows: number[];
}

interface BoxDate {
  readonly month: number;
  readonly dom: number;
  readonly dow: number;
  readonly wanted: boolean;
}

/**
 * Calendars for a run of UTC days on which the zone keeps one offset and no DST change acts.
 * A local time λ of local date D fires at UTC λ − offset, which is on UTC date D − k for the
 * carry k of that time; so UTC date U fires the times of carry k when D = U + k matches.
 */
function runCalendars(schedule: CronSchedule, offsetMs: number, firstDay: number, lastDay: number): Cal[] {
  const offset = offsetMs / 60_000;
  const byCarry = new Map<number, number[]>();
  for (const local of schedule.times) {
    const raw = local - offset;
    const carry = -Math.floor(raw / 1440);
    const utc = ((raw % 1440) + 1440) % 1440;
    const times = byCarry.get(carry);
    if (times) times.push(utc);
    else byCarry.set(carry, [utc]);
  }
  const out: Cal[] = [];
  for (const box of boxes(firstDay, lastDay)) {
    for (const [carry, times] of byCarry) {
      const dates: BoxDate[] = [];
      for (const month of box.months) {
        const to = Math.min(box.domTo, daysInMonth(box.year, month));
        for (let dom = box.domFrom; dom <= to; dom++) {
          const utcDay = Date.UTC(box.year, month - 1, dom) / MS_PER_DAY;
          const local = civil(utcDay + carry);
          dates.push({
            month,
            dom,
            dow: new Date(utcDay * MS_PER_DAY).getUTCDay(),
            wanted: dayMatches(schedule, local.month, local.dom, local.dow),
          });
        }
      }
      const products = coverDates(box, dates, hints(schedule, carry));
      const timeSets = timeProducts(times);
      for (const p of products) {
        for (const t of timeSets) {
          out.push({ year: [box.year], month: p.months, dom: p.doms, dow: p.dows, ...t });
        }
      }
    }
  }
  return out;
}

const shiftValues = (values: readonly number[], by: number, lo: number, hi: number): number[] =>
  values.map((v) => v + by).filter((v) => v >= lo && v <= hi);
const rotateDows = (values: readonly number[], by: number): number[] =>
  [...new Set(values.map((v) => (((v + by) % 7) + 7) % 7))].sort((a, b) => a - b);

/** Shapes the dates of one carry are likely to take: the expression's own day fields, shifted. */
function hints(schedule: CronSchedule, carry: number): DateProduct[] {
  const { cron } = schedule;
  const dows = rotateDows(cron.daysOfWeek, -carry);
  const out: DateProduct[] = [{ months: ALL_MONTHS, doms: ALL_DOMS, dows: ALL_DOWS }];
  if (cron.domRestricted && cron.dowRestricted) {
    out.push({ months: cron.months.slice(), doms: ALL_DOMS, dows });
    out.push({ months: cron.months.slice(), doms: shiftValues(cron.daysOfMonth, -carry, 1, 31), dows: ALL_DOWS });
  } else {
    out.push({ months: cron.months.slice(), doms: shiftValues(cron.daysOfMonth, -carry, 1, 31), dows });
  }
  return out;
}

function inProduct(p: DateProduct, d: BoxDate): boolean {
  return p.months.includes(d.month) && p.doms.includes(d.dom) && p.dows.includes(d.dow);
}

/**
 * Date products that together cover exactly the wanted dates of a box: the hints, shrunk until
 * they hold no unwanted date, and what they leave listed month by month.
 */
function coverDates(box: Box, dates: readonly BoxDate[], shapes: readonly DateProduct[]): DateProduct[] {
  const wanted = dates.filter((d) => d.wanted);
  if (wanted.length === 0) return [];
  const boxDoms = range(box.domFrom, box.domTo);
  if (wanted.length === dates.length) return [{ months: box.months, doms: boxDoms, dows: ALL_DOWS }];
  const covered = new Set<BoxDate>();
  const out: DateProduct[] = [];
  for (const shape of shapes) {
    const product = shrink(
      {
        months: shape.months.filter((m) => box.months.includes(m)),
        doms: shape.doms.filter((d) => d >= box.domFrom && d <= box.domTo),
        dows: shape.dows,
      },
      dates,
    );
    if (!product) continue;
    const fresh = wanted.filter((d) => !covered.has(d) && inProduct(product, d));
    if (fresh.length === 0) continue;
    for (const d of fresh) covered.add(d);
    out.push(product);
  }
  const rest = new Map<number, number[]>();
  for (const d of wanted) {
    if (covered.has(d)) continue;
    const doms = rest.get(d.month);
    if (doms) doms.push(d.dom);
    else rest.set(d.month, [d.dom]);
  }
  const byDoms = new Map<string, DateProduct>();
  for (const [month, doms] of rest) {
    const key = doms.join(',');
    const product = byDoms.get(key) ?? { months: [], doms, dows: ALL_DOWS };
    product.months.push(month);
    byDoms.set(key, product);
  }
  return [...out, ...byDoms.values()];
}

/**
 * Removes values from a product until it holds no unwanted date, one value at a time, each time
 * the one that drops the most unwanted dates for the fewest wanted ones. `undefined` when nothing
 * wanted is left.
 */
function shrink(product: DateProduct, dates: readonly BoxDate[]): DateProduct | undefined {
  let p = product;
  for (;;) {
    const inside = dates.filter((d) => inProduct(p, d));
    if (!inside.some((d) => d.wanted)) return undefined;
    if (inside.every((d) => d.wanted)) return p;
    const score = new Map<string, number>();
    for (const d of inside) {
      const delta = d.wanted ? -1 : 1;
      for (const key of [`months:${d.month}`, `doms:${d.dom}`, `dows:${d.dow}`]) {
        score.set(key, (score.get(key) ?? 0) + delta);
      }
    }
    let best: string | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const [key, s] of score) {
      if (s > bestScore) {
        best = key;
        bestScore = s;
      }
    }
    const [field, value] = (best as string).split(':') as [keyof DateProduct, string];
    p = { ...p, [field]: p[field].filter((v) => v !== Number(value)) };
  }
}

function key(cal: Cal, except: CalField): string {
  return CAL_FIELDS.filter((f) => f !== except)
    .map((f) => cal[f].join(','))
    .join('|');
}

const union = (a: readonly number[], b: readonly number[]): number[] =>
  [...new Set([...a, ...b])].sort((x, y) => x - y);
const subset = (a: readonly number[], b: readonly number[]): boolean => a.every((v) => b.includes(v));

/** A day set that holds every day of each of its months (in its years) matches like `*`. */
function normalise(cal: Cal): Cal {
  const longest = Math.max(...cal.year.flatMap((y) => cal.month.map((m) => daysInMonth(y, m))));
  const dom = cal.dom.length < 31 && subset(range(1, longest), cal.dom) ? ALL_DOMS : cal.dom;
  return { ...cal, dom, month: [...cal.month].sort((a, b) => a - b) };
}

function realDates(cal: Cal): boolean {
  return cal.year.some((y) => cal.month.some((m) => cal.dom.some((d) => d <= daysInMonth(y, m))));
}

/**
 * Merges calendars that differ in one field (their union is then one calendar), drops those
 * another contains, to a fixpoint. Exact: a union of products equal in all other fields is the
 * product of the union.
 */
function mergeCalendars(input: readonly Cal[]): Cal[] {
  let cals = input.map(normalise).filter(realDates);
  for (let changed = true; changed; ) {
    changed = false;
    for (const field of CAL_FIELDS) {
      const merged = new Map<string, Cal>();
      for (const cal of cals) {
        const k = key(cal, field);
        const existing = merged.get(k);
        if (existing) {
          const values = union(existing[field], cal[field]);
          if (values.length !== existing[field].length) changed = true;
          merged.set(k, normalise({ ...existing, [field]: values }));
        } else {
          merged.set(k, cal);
        }
      }
      if (merged.size !== cals.length) changed = true;
      cals = [...merged.values()];
    }
    const kept = cals.filter(
      (cal, i) =>
        !cals.some(
          (other, j) =>
            j !== i &&
            CAL_FIELDS.every((f) => subset(cal[f], other[f])) &&
            (j < i || !CAL_FIELDS.every((f) => subset(other[f], cal[f]))),
        ),
    );
    if (kept.length !== cals.length) {
      changed = true;
      cals = kept;
    }
  }
  return cals;
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

function field<T>(values: readonly number[], full: number | undefined, map: (v: number) => T): Loose<T> {
  if (full !== undefined && values.length === full) return '*';
  const parts = compress(values).map((p) =>
    typeof p === 'number' ? map(p) : { start: map(p.start), end: map(p.end), step: p.step },
  );
  return parts.length === 1 ? (parts[0] as T | ScheduleRange<T>) : parts;
}

const monthName = (m: number): TemporalMonth => TEMPORAL_MONTHS[m - 1] as TemporalMonth;
const dowName = (d: number): TemporalDayOfWeek => TEMPORAL_DAYS_OF_WEEK[d] as TemporalDayOfWeek;
const same = (v: number): number => v;

function toTemporal(cal: Cal): TemporalCalendarSpec {
  return {
    second: 0,
    minute: field(cal.minute, FULL.minute, same),
    hour: field(cal.hour, FULL.hour, same),
    dayOfMonth: field(cal.dom, FULL.dom, same),
    month: field(cal.month, FULL.month, monthName),
    year: field(cal.year, undefined, same),
    dayOfWeek: field(cal.dow, FULL.dow, dowName),
  };
}
