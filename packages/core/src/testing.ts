import { type DstPolicyInput, type ParsedCron, parseCron } from './cron.ts';

/**
 * Zones whose rules reach every corner of the local-time engine, shared by its unit tests and
 * the integration suite (`@activity-core/core/testing`): DST at midnight (Santiago, Havana,
 * Chisinau), 30- and 45-minute shifts and offsets (Lord Howe, Chatham, Kathmandu, St John's,
 * Tehran), a 2-hour shift (Troll), negative DST (Dublin), Ramadan suspensions (Casablanca),
 * zones whose rules changed recently (Vancouver, Edmonton), both hemispheres, and UTC.
 */
export const DST_TEST_ZONES = [
  'America/Santiago',
  'America/Havana',
  'Europe/Berlin',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Vancouver',
  'America/Edmonton',
  'Africa/Casablanca',
  'Europe/Chisinau',
  'America/New_York',
  'Europe/London',
  'Europe/Dublin',
  'Australia/Sydney',
  'Pacific/Auckland',
  'Asia/Kathmandu',
  'America/St_Johns',
  'Asia/Tehran',
  'Antarctica/Troll',
  'UTC',
] as const;

// ---------------------------------------------------------------------------------------------
// The reference for the DST rules: written apart from the engine, by brute force. It walks
// every UTC minute of a window, reads the wall clock from its own Intl formatter, and so sees
// each wall time's instants directly (two in a fold), and the wall times the clock jumps over
// (a gap), with the instant of the jump. The rules are then applied as the README states them.

const MINUTE = 60_000;
const referenceFormats = new Map<string, Intl.DateTimeFormat>();

function referenceWall(timezone: string, instant: number): number {
  let format = referenceFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    referenceFormats.set(timezone, format);
  }
  // en-GB, h23: "dd/mm/yyyy, hh:mm" (years 2000-9999 here).
  const s = format.format(instant);
  const match = /^(\d\d)\/(\d\d)\/(\d{4}), (\d\d):(\d\d)$/.exec(s);
  if (!match) throw new Error(`unexpected wall clock format "${s}"`);
  const [, day, month, year, hour, minute] = match.map(Number) as number[];
  return Date.UTC(year as number, (month as number) - 1, day, hour, minute);
}

/** The wall clock of a zone over `[from, to]`, minute by minute (wall times are fields read as UTC). */
export interface WallClockWalk {
  /** Each wall time the clock shows, with the instants it shows it at (two in a fold). */
  readonly instantsOf: ReadonlyMap<number, readonly number[]>;
  /** Each wall time the clock jumps over (a gap), with the instant of the jump. */
  readonly jumpedOver: ReadonlyMap<number, number>;
}

/** Walks the wall clock of `timezone` minute by minute; independent of any other tz code here. */
export function walkWallClock(timezone: string, from: number, to: number): WallClockWalk {
  const instantsOf = new Map<number, number[]>();
  const jumpedOver = new Map<number, number>();
  let previous = referenceWall(timezone, from - MINUTE);
  for (let u = from; u <= to; u += MINUTE) {
    const wall = referenceWall(timezone, u);
    const seen = instantsOf.get(wall);
    if (seen) seen.push(u);
    else instantsOf.set(wall, [u]);
    for (let skipped = previous + MINUTE; skipped < wall; skipped += MINUTE) jumpedOver.set(skipped, u);
    previous = wall;
  }
  return { instantsOf, jumpedOver };
}

/** A predicate: does the expression name this wall time (POSIX day rule on its local date)? */
function wallNamer(expression: string): (wall: number) => boolean {
  const parsed = parseCron(expression);
  if (!parsed.ok) throw new Error(parsed.error.message);
  const cron: ParsedCron = parsed.cron;
  const set = (values: readonly number[]) => new Set(values);
  const [minutes, hours, months, doms, dows] = [
    set(cron.minutes),
    set(cron.hours),
    set(cron.months),
    set(cron.daysOfMonth),
    set(cron.daysOfWeek),
  ];
  return (wall) => {
    const d = new Date(wall);
    if (!minutes.has(d.getUTCMinutes()) || !hours.has(d.getUTCHours()) || !months.has(d.getUTCMonth() + 1)) {
      return false;
    }
    const dom = doms.has(d.getUTCDate());
    const dow = dows.has(d.getUTCDay());
    return cron.domRestricted && cron.dowRestricted ? dom || dow : dom && dow;
  };
}

/** `auto` resolved as the README states it: minute or hour field starting with `*` → wildcard job. */
function referencePolicy(
  expression: string,
  dst: DstPolicyInput,
): { gap: 'shift' | 'skip'; fold: 'first' | 'last' | 'both' } {
  const [minuteField = '', hourField = ''] = expression.trim().split(/\s+/);
  const wildcard = minuteField.startsWith('*') || hourField.startsWith('*');
  return {
    gap: dst.gap === undefined || dst.gap === 'auto' ? (wildcard ? 'skip' : 'shift') : dst.gap,
    fold: dst.fold === undefined || dst.fold === 'auto' ? (wildcard ? 'both' : 'first') : dst.fold,
  };
}

/** What the README's DST rules make fire over a walk, and how each fire was touched. */
export function referenceOccurrences(
  expression: string,
  dst: DstPolicyInput,
  walk: WallClockWalk,
): Map<number, 'exact' | 'shifted' | 'repeated'> {
  const namesWall = wallNamer(expression);
  const { gap, fold } = referencePolicy(expression, dst);
  const fires = new Map<number, 'exact' | 'shifted' | 'repeated'>();
  for (const [wall, instants] of walk.instantsOf) {
    if (!namesWall(wall)) continue;
    if (instants.length === 1) fires.set(instants[0] as number, 'exact');
    else {
      if (fold !== 'last') fires.set(instants[0] as number, 'repeated');
      if (fold !== 'first') fires.set(instants.at(-1) as number, 'repeated');
    }
  }
  if (gap === 'shift') for (const [wall, at] of walk.jumpedOver) if (namesWall(wall)) fires.set(at, 'shifted');
  return fires;
}

/** The reference's fire instants in `[from, to]` (the walk runs over exactly that span), ascending. */
export function referenceFires(
  expression: string,
  timezone: string,
  dst: DstPolicyInput,
  from: number,
  to: number,
): number[] {
  return [...referenceOccurrences(expression, dst, walkWallClock(timezone, from, to)).keys()].sort((a, b) => a - b);
}

/** How a list of fire times breaks the DST rules over a window; empty when it keeps them. */
export interface DstRuleBreaks {
  /** Named local times that exist once (or a shifted gap's end) that did not fire. */
  readonly lost: readonly number[];
  /** Fires at an instant no rule allows (a time not named, the wrong copy of a repeated time, a skipped gap). */
  readonly extra: readonly number[];
  /** Instants that fired more than once. */
  readonly doubled: readonly number[];
}

/**
 * Checks `fires` (instants within `(from, to]`) against the README's DST rules over a walk that
 * covers the window with a margin. `rules: 'policy'` is the declared policy (`dst`, `auto`
 * resolved); `rules: 'any-fold'` only asks that a repeated named time fire at one or both of
 * its instants and that gaps shift (what the README promised before the declared policy).
 */
export function dstRuleBreaks(
  expression: string,
  dst: DstPolicyInput,
  walk: WallClockWalk,
  window: { readonly from: number; readonly to: number },
  fires: readonly number[],
  rules: 'policy' | 'any-fold' = 'policy',
): DstRuleBreaks {
  const inWindow = (t: number) => t > window.from && t <= window.to;
  const required = new Set<number>();
  const allowed = new Set<number>();
  const folds: number[][] = [];
  if (rules === 'policy') {
    for (const at of referenceOccurrences(expression, dst, walk).keys()) required.add(at);
  } else {
    const namesWall = wallNamer(expression);
    for (const [wall, instants] of walk.instantsOf) {
      if (!namesWall(wall)) continue;
      if (instants.length === 1) required.add(instants[0] as number);
      else {
        folds.push([...instants]);
        for (const at of instants) allowed.add(at);
      }
    }
    for (const [wall, at] of walk.jumpedOver) if (namesWall(wall)) required.add(at);
  }
  for (const at of required) allowed.add(at);
  const fired = new Map<number, number>();
  for (const at of fires) fired.set(at, (fired.get(at) ?? 0) + 1);
  const lost = [...required].filter((at) => inWindow(at) && !fired.has(at));
  for (const instants of folds) {
    if (instants.some(inWindow) && !instants.some((at) => fired.has(at))) lost.push(instants[0] as number);
  }
  return {
    lost: lost.sort((a, b) => a - b),
    extra: [...fired.keys()].filter((at) => !allowed.has(at)).sort((a, b) => a - b),
    doubled: [...fired].filter(([, n]) => n > 1).map(([at]) => at),
  };
}

/** One case of the DST corpus: a cron expression in a zone over a window around a transition. */
export interface DstCorpusCase {
  readonly expression: string;
  readonly timezone: string;
  /** The window compared, `(from, to]`, epoch ms. */
  readonly from: number;
  readonly to: number;
  /** The minute-by-minute wall clock over the window and a margin, shared by the window's cases. */
  readonly walk: WallClockWalk;
}

/** Expressions of the corpus: the examples and the shapes that meet DST. */
export const DST_CORPUS_EXPRESSIONS = [
  '*/15 * * * *',
  '*/7 * * * *',
  '0 * * * *',
  '30 * * * *',
  '5-50/15 0-6/2 * * *',
  '45 1-3 * * *',
  '*/15 2-3 * * *',
  '30 2 * * *',
  '0 0 * * *',
  '0 9 * * SUN',
  '59 23 * * SAT',
  '30 1 * * 7',
  '15 2 1,15 * MON',
  '0 3 * * MON-FRI',
] as const;

/**
 * The kept DST corpus: every expression of {@link DST_CORPUS_EXPRESSIONS} in every zone of
 * {@link DST_TEST_ZONES}, over 26 h either side of each of the zone's offset changes in 2027
 * and 2028 (one mid-year window for zones without any). Deterministic: same tz data, same cases.
 */
export function dstCorpus(): DstCorpusCase[] {
  const span = 26 * 3_600_000;
  const margin = 3 * 3_600_000; // a fold lasts at most 2 h (Troll)
  const out: DstCorpusCase[] = [];
  for (const timezone of DST_TEST_ZONES) {
    const anchors = transitionsOf(timezone, Date.UTC(2027, 0, 1), Date.UTC(2029, 0, 1));
    if (anchors.length === 0) anchors.push(Date.UTC(2027, 5, 15, 12));
    for (const anchor of anchors) {
      const from = Math.floor((anchor - span) / MINUTE) * MINUTE;
      const to = from + 2 * span;
      const walk = walkWallClock(timezone, from - margin, to + margin);
      for (const expression of DST_CORPUS_EXPRESSIONS) out.push({ expression, timezone, from, to, walk });
    }
  }
  return out;
}

/** Instants in `[from, to)` where the zone's offset changes, found by the reference's own clock. */
function transitionsOf(timezone: string, from: number, to: number): number[] {
  const offset = (t: number) => referenceWall(timezone, t) - Math.floor(t / MINUTE) * MINUTE;
  const out: number[] = [];
  const step = 6 * 3_600_000;
  for (let t = from; t < to; t += step) {
    if (offset(t) === offset(t + step)) continue;
    let a = t;
    let b = t + step;
    while (b - a > MINUTE) {
      const mid = a + Math.floor((b - a) / MINUTE / 2) * MINUTE;
      if (offset(mid) === offset(a)) a = mid;
      else b = mid;
    }
    out.push(b);
  }
  return out;
}
