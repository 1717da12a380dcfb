import { z } from 'zod';
import { isValidTimezone } from './time-zone.ts';

export { isValidTimezone } from './time-zone.ts';

/**
 * A parsed 5-field cron expression. Every set is sorted and deduplicated; day of week uses
 * 0 = Sunday … 6 = Saturday (a `7` in the source is folded into 0).
 */
export interface ParsedCron {
  readonly source: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  readonly months: readonly number[];
  readonly daysOfWeek: readonly number[];
  /** The field does not start with `*` or `?`: it restricts days (see the POSIX rule). */
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
  /**
   * The minute or the hour field starts with `*` (`*`, `*&#47;15`, …): a "wildcard job" in
   * Vixie/ISC cron's sense, which follows the clock through DST changes (see {@link DstPolicy}).
   */
  readonly wildcardTime: boolean;
}

export const CRON_FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
export type CronField = (typeof CRON_FIELDS)[number];

export interface CronParseError {
  message: string;
  /** 1-based position of the offending field, absent when the field count is wrong. */
  position?: number;
  field?: CronField;
}

export type ParseCronResult = { ok: true; cron: ParsedCron } | { ok: false; error: CronParseError };

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DOW_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  min: number;
  max: number;
  names?: readonly string[];
  /** Value the first name maps to (1 for months, 0 for days of week). */
  nameBase?: number;
  allowQuestion?: boolean;
}

const FIELD_SPECS: Record<CronField, FieldSpec> = {
  minute: { min: 0, max: 59 },
  hour: { min: 0, max: 23 },
  'day-of-month': { min: 1, max: 31, allowQuestion: true },
  month: { min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  'day-of-week': { min: 0, max: 7, names: DOW_NAMES, nameBase: 0, allowQuestion: true },
};

/**
 * Parses a 5-field cron expression: `minute hour day-of-month month day-of-week`.
 *
 * Accepted, per field (fields separated by spaces or tabs):
 * - `*` every value; `?` is a synonym of `*` in day-of-month and day-of-week only;
 * - `N` a value: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or `JAN`-`DEC`,
 *   day-of-week 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`; names are case-insensitive;
 * - `A-B` an inclusive range with A <= B (no wrap-around such as `FRI-MON`);
 * - `*&#47;S`, `A-B/S`, `A/S` a step S >= 1 over the whole field, over A-B, or from A to the end;
 * - `X,Y,…` a list of any of the above.
 *
 * Rejected, with a message naming the field and its position: macros (`@daily`), 6 or 7
 * fields (seconds, years), `L`, `W`, `#`, empty list items, out-of-range values, step 0,
 * reversed ranges and unknown names.
 *
 * Day matching follows POSIX/Vixie cron: when both day fields are restricted (neither starts
 * with `*` or `?`), a day matches if EITHER matches; otherwise both must match. So
 * `0 9 1 * MON` runs on the 1st and on every Monday, while `0 9 *&#47;2 * MON` runs on
 * odd-numbered days that are Mondays.
 */
export function parseCron(expression: string): ParseCronResult {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) {
    return {
      ok: false,
      error: { message: `macros such as ${trimmed.split(/\s/)[0]} are not supported; write 5 fields` },
    };
  }
  const fields = trimmed === '' ? [] : trimmed.split(/[ \t]+/);
  if (fields.length !== 5) {
    return {
      ok: false,
      error: {
        message: `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`,
      },
    };
  }
  const sets: number[][] = [];
  for (let i = 0; i < 5; i++) {
    const field = CRON_FIELDS[i] as CronField;
    const text = fields[i] as string;
    const parsed = parseField(text, FIELD_SPECS[field]);
    if (typeof parsed === 'string') {
      return {
        ok: false,
        error: { message: `field ${i + 1} (${field}) "${text}": ${parsed}`, position: i + 1, field },
      };
    }
    sets.push(parsed);
  }
  const [minutes, hours, daysOfMonth, months, dowRaw] = sets as [number[], number[], number[], number[], number[]];
  const daysOfWeek = [...new Set(dowRaw.map((d) => d % 7))].sort((a, b) => a - b);
  const domField = fields[2] as string;
  const dowField = fields[4] as string;
  return {
    ok: true,
    cron: {
      source: trimmed,
      minutes,
      hours,
      daysOfMonth,
      months,
      daysOfWeek,
      domRestricted: !(domField.startsWith('*') || domField.startsWith('?')),
      dowRestricted: !(dowField.startsWith('*') || dowField.startsWith('?')),
      wildcardTime: (fields[0] as string).startsWith('*') || (fields[1] as string).startsWith('*'),
    },
  };
}

function parseValue(text: string, spec: FieldSpec): number | string {
  if (/^\d{1,4}$/.test(text)) {
    const n = Number(text);
    if (n < spec.min || n > spec.max) return `${n} is out of range ${spec.min}-${spec.max}`;
    return n;
  }
  if (spec.names) {
    const index = spec.names.indexOf(text.toUpperCase());
    if (index >= 0) return index + (spec.nameBase ?? 0);
    return `unknown name "${text}", expected ${spec.names[0]}-${spec.names[spec.names.length - 1]} or a number`;
  }
  return `"${text}" is not a number`;
}

function parseField(text: string, spec: FieldSpec): number[] | string {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') return 'empty list item';
    const slash = item.split('/');
    if (slash.length > 2) return `"${item}" has more than one "/"`;
    const [base = '', stepText] = slash;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,4}$/.test(stepText)) return `step "${stepText}" is not a number`;
      step = Number(stepText);
      if (step < 1) return 'step must be at least 1';
    }
    let start: number;
    let end: number;
    if (base === '*' || (base === '?' && spec.allowQuestion)) {
      if (base === '?' && stepText !== undefined) return '"?" takes no step';
      start = spec.min;
      end = spec.max;
    } else if (base.includes('-')) {
      const [a = '', b = '', ...rest] = base.split('-');
      if (rest.length > 0 || a === '' || b === '') return `malformed range "${base}"`;
      const va = parseValue(a, spec);
      if (typeof va === 'string') return va;
      const vb = parseValue(b, spec);
      if (typeof vb === 'string') return vb;
      if (va > vb) return `range ${base} is reversed (wrap-around ranges are not supported)`;
      start = va;
      end = vb;
    } else {
      if (base === '') return `malformed item "${item}"`;
      const v = parseValue(base, spec);
      if (typeof v === 'string') return base === '?' ? '"?" is only allowed in day-of-month and day-of-week' : v;
      start = v;
      end = stepText === undefined ? v : spec.max;
    }
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

const DAYS_IN_MONTH_MAX = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True when the expression can never fire (e.g. `0 0 30 2 *`). */
export function cronNeverFires(cron: ParsedCron): boolean {
  if (cron.dowRestricted && cron.domRestricted) return false;
  if (!cron.domRestricted) return false;
  return !cron.months.some((m) => cron.daysOfMonth.some((d) => d <= (DAYS_IN_MONTH_MAX[m - 1] ?? 31)));
}

export const MisfirePolicy = z.enum(['skip', 'fire_once', 'fire_all']);
export type MisfirePolicy = z.infer<typeof MisfirePolicy>;

export const MisfireConfig = z.object({
  policy: MisfirePolicy.default('fire_once').describe(
    'What to do with an occurrence that starts later than graceSeconds',
  ),
  graceSeconds: z.number().int().min(0).max(86_400).default(60),
  maxCatchUp: z
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(10)
    .describe('fire_all: at most this many late occurrences spawn'),
});
export type MisfireConfig = z.infer<typeof MisfireConfig>;

/**
 * What a cron trigger does with local times that a DST change skips (`gap`) or repeats (`fold`):
 * - every named local time that exists once fires exactly once, at its instant;
 * - `gap: 'shift'`: a named local time that does not exist fires once, at the first instant
 *   after the gap, merged with any other fire at that instant; `'skip'`: it does not fire;
 * - `fold: 'first' | 'last' | 'both'`: a named local time that occurs twice fires at its first
 *   instant, its second, or both;
 * - `'auto'` (the default, per side) is Vixie/ISC cron's rule: a job whose minute or hour field
 *   starts with `*` follows the clock (`gap: 'skip'`, `fold: 'both'`); any other job is a
 *   fixed-time job (`gap: 'shift'`, `fold: 'first'`).
 *
 * Nothing else ever fires.
 */
export const DstPolicy = z
  .object({
    gap: z.enum(['shift', 'skip', 'auto']).default('auto').describe('local times a DST change skips'),
    fold: z.enum(['first', 'last', 'both', 'auto']).default('auto').describe('local times a DST change repeats'),
  })
  .strict();
export type DstPolicy = z.infer<typeof DstPolicy>;
export type DstPolicyInput = z.input<typeof DstPolicy>;

/** When a cron definition fires: expression, zone, DST policy, jitter bound and misfire policy. */
export const CronTriggerConfig = z
  .object({
    expression: z.string().min(1).max(256).describe('5-field cron: minute hour day-of-month month day-of-week'),
    timezone: z.string().default('UTC').describe('IANA timezone, e.g. Europe/Berlin'),
    dst: DstPolicy.default({ gap: 'auto', fold: 'auto' }),
    jitterSeconds: z.number().int().min(0).max(3_600).default(0),
    misfire: MisfireConfig.default({ policy: 'fire_once', graceSeconds: 60, maxCatchUp: 10 }),
  })
  .superRefine((config, ctx) => {
    const parsed = parseCron(config.expression);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', path: ['expression'], message: parsed.error.message });
    } else if (cronNeverFires(parsed.cron)) {
      ctx.addIssue({ code: 'custom', path: ['expression'], message: 'this expression never fires (no such day)' });
    }
    if (!isValidTimezone(config.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown IANA timezone "${config.timezone}"` });
    }
  });
export type CronTriggerConfig = z.infer<typeof CronTriggerConfig>;
