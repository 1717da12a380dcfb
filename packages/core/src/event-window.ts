/**
 * Event windows: an event trigger's optional `window` groups the events of one definition by a
 * key (a CEL expression over the event) into one run per window. Three modes:
 *
 * - `debounce`: the window closes `quiet` after its last event, at the latest `maxWait` after
 *   its first (one run per burst);
 * - `batch`: the window closes `duration` after its first event or at its `maxEvents`-th,
 *   whichever comes first (fixed-size groups);
 * - `allOf`: the window opens on an event of one of `types`, closes as soon as at least one
 *   event of each of them has joined, and expires `duration` after its first event otherwise
 *   (correlation; an expired window's run spawns only the templates marked `onExpired`).
 *
 * Everything here is pure: the schema, the bounds, the key evaluation and the closing rules
 * that the window workflow and its activities apply, one event at a time, in arrival order.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { Duration } from 'luxon';
import { z } from 'zod';
import {
  type CompiledExpression,
  type CompileOptions,
  type CompileResult,
  compileExpression,
  type EvaluateOptions,
  evaluate,
  eventFilterEnvironment,
  formatCelError,
} from './cel.ts';
import { assertNever } from './errors.ts';
import { WINDOW_LIMITS } from './event-window-time.ts';
import { matchesTypePattern, typePatternError } from './type-patterns.ts';

export { closedByTime, WINDOW_LIMITS, windowDeadline } from './event-window-time.ts';

// Weeks, days, hours, minutes, seconds: no years or months, whose length depends on the date.
const WINDOW_DURATION = /^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;

/** Milliseconds of an ISO 8601 window duration, or undefined when it is not one. */
export function windowDurationMs(iso: string): number | undefined {
  if (!WINDOW_DURATION.test(iso)) return undefined;
  const duration = Duration.fromISO(iso);
  return duration.isValid ? duration.toMillis() : undefined;
}

const humanBound = (ms: number) => (ms >= 86_400_000 ? `${ms / 86_400_000} days` : `${ms / 1000} s`);

/** An ISO 8601 duration within {@link WINDOW_LIMITS}: `PT30S`, `PT5M`, `PT1H`, `P1D`. */
export const WindowDuration = z
  .string()
  .max(64)
  .superRefine((iso, ctx) => {
    const ms = windowDurationMs(iso);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. PT30S, PT5M, P1D',
      });
    } else if (ms < WINDOW_LIMITS.minDurationMs || ms > WINDOW_LIMITS.maxDurationMs) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration between ${humanBound(WINDOW_LIMITS.minDurationMs)} and ${humanBound(WINDOW_LIMITS.maxDurationMs)}`,
      });
    }
  });

const WindowKey = z
  .string()
  .min(1)
  .max(4_096)
  .describe('CEL over `event` yielding the window key, a string (e.g. `event.data.orderId`)');

const TypePattern = z.string().superRefine((pattern, ctx) => {
  const error = typePatternError(pattern);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});

export const DebounceWindow = z
  .object({
    mode: z.literal('debounce'),
    key: WindowKey,
    quiet: WindowDuration.describe('the window closes this long after its last event'),
    maxWait: WindowDuration.optional().describe('… and at the latest this long after its first (default: 7 days)'),
  })
  .superRefine((w, ctx) => {
    const quiet = windowDurationMs(w.quiet);
    const maxWait = w.maxWait === undefined ? undefined : windowDurationMs(w.maxWait);
    if (quiet !== undefined && maxWait !== undefined && maxWait < quiet) {
      ctx.addIssue({ code: 'custom', path: ['maxWait'], message: 'maxWait must not be shorter than quiet' });
    }
  });

export const BatchWindow = z.object({
  mode: z.literal('batch'),
  key: WindowKey,
  duration: WindowDuration.describe('the window closes this long after its first event…'),
  maxEvents: z
    .number()
    .int()
    .min(1)
    .max(WINDOW_LIMITS.maxBatchEvents)
    .optional()
    .describe(`… or when it holds this many events (default and maximum ${WINDOW_LIMITS.maxBatchEvents})`),
});

export const AllOfWindow = z.object({
  mode: z.literal('allOf'),
  key: WindowKey,
  types: z
    .array(TypePattern)
    .min(WINDOW_LIMITS.minAllOfTypes, `at least ${WINDOW_LIMITS.minAllOfTypes} types are required`)
    .max(WINDOW_LIMITS.maxAllOfTypes)
    .refine((types) => new Set(types).size === types.length, 'types must be distinct')
    .describe('the window closes once at least one event of each type joined'),
  duration: WindowDuration.describe('… and expires this long after its first event otherwise'),
});

/** The `window` of an event trigger. */
export const EventWindow = z.discriminatedUnion('mode', [DebounceWindow, BatchWindow, AllOfWindow]);
export type EventWindow = z.infer<typeof EventWindow>;
export type WindowMode = EventWindow['mode'];

/** A window's closing rules in milliseconds: plain data, carried by the window workflow. */
export type WindowSettings =
  | { readonly mode: 'debounce'; readonly quietMs: number; readonly maxWaitMs: number }
  | { readonly mode: 'batch'; readonly durationMs: number; readonly maxEvents: number }
  | { readonly mode: 'allOf'; readonly durationMs: number; readonly types: readonly string[] };

const ms = (iso: string): number => windowDurationMs(iso) ?? WINDOW_LIMITS.maxDurationMs;

/** The closing rules of a (validated) window. */
export function windowSettings(window: EventWindow): WindowSettings {
  switch (window.mode) {
    case 'debounce':
      return {
        mode: 'debounce',
        quietMs: ms(window.quiet),
        maxWaitMs: window.maxWait === undefined ? WINDOW_LIMITS.maxDurationMs : ms(window.maxWait),
      };
    case 'batch':
      return {
        mode: 'batch',
        durationMs: ms(window.duration),
        maxEvents: window.maxEvents ?? WINDOW_LIMITS.maxBatchEvents,
      };
    case 'allOf':
      return { mode: 'allOf', durationMs: ms(window.duration), types: [...window.types] };
    default:
      return assertNever(window, 'window mode');
  }
}

/**
 * Why a window closed. `quiet`/`maxWait` (debounce), `duration`/`maxEvents` (batch),
 * `complete`/`expired` (allOf), `closed` (an operator closed it early: `runs.trigger`),
 * `discarded` (an operator discarded it: `runs.cancel`; no run follows).
 */
export const WINDOW_CLOSE_REASONS = [
  'quiet',
  'maxWait',
  'duration',
  'maxEvents',
  'complete',
  'expired',
  'closed',
  'discarded',
] as const;
export type WindowCloseReason = (typeof WINDOW_CLOSE_REASONS)[number];

/** Where an open window stands; times in epoch milliseconds of the window workflow's clock. */
export interface WindowProgress {
  readonly openedAt: number;
  /** Arrival of the latest event that joined. */
  readonly lastAt: number;
  /** Distinct events that joined (kept or not). */
  readonly count: number;
  /** The `allOf` types at least one joined event matched. */
  readonly typesSeen: readonly string[];
}

/** The progress after one more distinct event (of `type`, arriving `at`) joined. */
export function joinedProgress(
  settings: WindowSettings,
  progress: WindowProgress,
  at: number,
  type: string,
): WindowProgress {
  const typesSeen =
    settings.mode === 'allOf'
      ? settings.types.filter((t) => progress.typesSeen.includes(t) || matchesTypePattern(t, type))
      : progress.typesSeen;
  return { openedAt: progress.openedAt, lastAt: Math.max(progress.lastAt, at), count: progress.count + 1, typesSeen };
}

/**
 * Whether an event of `type` may open a window when none is open. Any matching event opens a
 * debounce or batch window; an `allOf` window opens only on an event of one of its `types`.
 * Other events the trigger matches join an open allOf window (they are counted and kept) but
 * never open one: a window opened by them could only expire, and its `onExpired` templates
 * would report a correlation that never began.
 */
export function opensWindow(settings: WindowSettings, type: string): boolean {
  return settings.mode !== 'allOf' || settings.types.some((pattern) => matchesTypePattern(pattern, type));
}

/** The reason the window is complete after its latest join (`maxEvents`, `complete`), or null. */
export function closedByContent(settings: WindowSettings, progress: WindowProgress): WindowCloseReason | null {
  switch (settings.mode) {
    case 'debounce':
      return null;
    case 'batch':
      return progress.count >= settings.maxEvents ? 'maxEvents' : null;
    case 'allOf':
      return progress.typesSeen.length >= settings.types.length ? 'complete' : null;
    default:
      return assertNever(settings, 'window settings');
  }
}

/** What a closed window leads to: a run (`run`), an expired run (`expired`) or nothing (`discard`). */
export function windowOutcome(reason: WindowCloseReason): 'run' | 'expired' | 'discard' {
  switch (reason) {
    case 'expired':
      return 'expired';
    case 'discarded':
      return 'discard';
    case 'quiet':
    case 'maxWait':
    case 'duration':
    case 'maxEvents':
    case 'complete':
    case 'closed':
      return 'run';
    default:
      return assertNever(reason, 'window close reason');
  }
}

/**
 * Compiles a window key expression: CEL over `event`, checked to yield a string. Pass the same
 * `input` limits and `maxCost` (the definition's budget) as for its filter: the key is one more
 * evaluation of the definition, with a budget of its own.
 */
export function compileWindowKey(source: string, options: Omit<CompileOptions, 'expect'> = {}): CompileResult {
  return compileExpression(source, eventFilterEnvironment, { ...options, expect: ['string'] });
}

/** The CloudEvents-style name of the key as a stable id part: 64 hex chars of SHA-256. */
export function windowKeyHash(key: string): string {
  return bytesToHex(sha256(utf8ToBytes(key)));
}

export const WindowKeyErrorCode = {
  evaluation: 'evaluation',
  /** The evaluation ran out of its budget (the definition's `limits.maxExpressionCost`). */
  budget: 'budget',
  notString: 'not_string',
  empty: 'empty',
  tooLong: 'too_long',
} as const;
export type WindowKeyErrorCode = (typeof WindowKeyErrorCode)[keyof typeof WindowKeyErrorCode];

export type WindowKeyResult =
  | { readonly ok: true; readonly key: string; readonly keyHash: string }
  | { readonly ok: false; readonly code: WindowKeyErrorCode; readonly message: string };

/**
 * The window key of one event: the expression's value, which must be a non-empty string of at
 * most {@link WINDOW_LIMITS.maxKeyLength} characters (use `string(event.data.id)` for numbers).
 * `celEvent` is the envelope as a CEL value (`toCelValue`). Never throws.
 */
export function evaluateWindowKey(
  program: CompiledExpression,
  celEvent: unknown,
  options: EvaluateOptions = {},
): WindowKeyResult {
  const result = evaluate(program, { event: celEvent }, options);
  if (!result.ok) {
    const code = result.error.code === 'budget' ? WindowKeyErrorCode.budget : WindowKeyErrorCode.evaluation;
    return { ok: false, code, message: formatCelError(result.error) };
  }
  const value = result.value;
  if (typeof value !== 'string') {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'list' : typeof value;
    return {
      ok: false,
      code: WindowKeyErrorCode.notString,
      message: `the window key must be a string, got ${kind} (wrap it in string(…))`,
    };
  }
  if (value.length === 0) return { ok: false, code: WindowKeyErrorCode.empty, message: 'the window key is empty' };
  if (value.length > WINDOW_LIMITS.maxKeyLength) {
    return {
      ok: false,
      code: WindowKeyErrorCode.tooLong,
      message: `the window key has ${value.length} characters, more than ${WINDOW_LIMITS.maxKeyLength}`,
    };
  }
  return { ok: true, key: value, keyHash: windowKeyHash(value) };
}

/**
 * A window as its run row records it (`runs.window`): open (`closedAt` and `reason` null) or
 * closed. Plain JSON.
 */
export const RunWindow = z.object({
  key: z.string(),
  keyHash: z.string(),
  mode: z.enum(['debounce', 'batch', 'allOf']),
  /** Event key of the window's first event: with the key hash, the window's identity. */
  openingEventKey: z.string(),
  /** RFC 3339. */
  openedAt: z.string(),
  closedAt: z.string().nullable(),
  reason: z.enum(WINDOW_CLOSE_REASONS).nullable(),
  /** Distinct events that joined. */
  count: z.number().int().nonnegative(),
  /** Of those, the events kept for the run (the first ones, within the bounds). */
  stored: z.number().int().nonnegative(),
  /** Deliveries of events that had already joined a window (redeliveries, duplicates). */
  duplicates: z.number().int().nonnegative(),
});
export type RunWindow = z.infer<typeof RunWindow>;

/** A closed window as its run receives it (it travels in workflow inputs). */
export type WindowSummary = Omit<RunWindow, 'closedAt' | 'reason'> & {
  readonly closedAt: string;
  readonly reason: WindowCloseReason;
};

/**
 * `window` as rules and templates see it: `key`, `mode`, `opened` and `closed` (timestamps),
 * `count`, `reason` and `dropped` (events counted but not kept in `events`).
 */
export function windowVariables(summary: WindowSummary): Record<string, unknown> {
  return {
    key: summary.key,
    mode: summary.mode,
    opened: new Date(Date.parse(summary.openedAt)),
    closed: new Date(Date.parse(summary.closedAt)),
    count: summary.count,
    reason: summary.reason,
    dropped: summary.count - summary.stored,
  };
}

/**
 * `window` of a windowed definition's run that no window started (a manual run): empty,
 * opened and closed at `now`, reason `closed`.
 */
export function emptyWindowVariables(mode: WindowMode, now: string): Record<string, unknown> {
  const at = new Date(Date.parse(now));
  return { key: '', mode, opened: at, closed: at, count: 0, reason: 'closed', dropped: 0 };
}
