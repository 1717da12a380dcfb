import { inspect } from 'node:util';

/**
 * How long a wait gives its condition unless told otherwise. Test timeouts are sized from the
 * waits they contain (see {@link outlasting}), so a slow condition is reported by its wait,
 * naming what was awaited, and never by a bare "Test timed out".
 */
export const WAIT_MS = 30_000;

/**
 * How long a service started as a child process (`node services/…/main.ts`) may take to say
 * it is ready: type stripping, connections, a first load, on a busy machine.
 */
export const PROCESS_START_MS = 60_000;

/** Headroom a test timeout keeps beyond its waits, for set-up and assertions between them. */
export const TEST_SLACK_MS = 30_000;

export interface WaitOptions<T> {
  /** What is awaited, in words that name the run, workflow or row: it heads the timeout error. */
  readonly what: string;
  /** Give up after this long; default {@link WAIT_MS}. */
  readonly timeoutMs?: number;
  /** Pause between two checks; default 100 ms. */
  readonly intervalMs?: number;
  /**
   * When the check's value is done. Without it, any value other than `undefined`, `null`
   * or `false` is. With it, the check can return what it saw (a count, a status), and the
   * timeout error shows the last one.
   */
  readonly until?: (value: T) => boolean;
  /** More for the timeout error, e.g. the tail of a service's log. */
  readonly context?: () => string | Promise<string>;
}

/** A wait ran out of time: `what` it waited for, and the last value its check returned. */
export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  readonly what: string;
  readonly timeoutMs: number;
  readonly lastValue: unknown;
  constructor(what: string, timeoutMs: number, lastValue: unknown, detail: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    this.name = 'WaitTimeoutError';
    this.what = what;
    this.timeoutMs = timeoutMs;
    this.lastValue = lastValue;
  }
}

function show(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Number.POSITIVE_INFINITY, maxArrayLength: 20, maxStringLength: 500 });
}

async function timeoutError(
  what: string,
  timeoutMs: number,
  last: { checked: boolean; value: unknown },
  context: (() => string | Promise<string>) | undefined,
  unsettled = 'the check never completed',
): Promise<WaitTimeoutError> {
  let detail = last.checked ? `; last seen: ${show(last.value)}` : `; ${unsettled}`;
  if (context) {
    const extra = await Promise.resolve()
      .then(context)
      .catch((error: unknown) => `(context unavailable: ${String(error)})`);
    if (extra) detail += `\n${extra}`;
  }
  return new WaitTimeoutError(what, timeoutMs, last.value, detail);
}

/**
 * Polls `check` until its value is done (see {@link WaitOptions.until}) and returns that
 * value; after `timeoutMs` it throws a {@link WaitTimeoutError} naming `what` and the last
 * value seen. An error thrown by `check` ends the wait at once (it is a failure, not a "not
 * yet"). A check that hangs is cut off at the deadline too.
 *
 * @example
 * const run = await waitFor(async () => (await listRuns(db, { definitionId })).items[0], {
 *   what: `the run of definition ${definitionId}`,
 * });
 */
export function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitOptions<Awaited<T>> & { readonly until: (value: Awaited<T>) => boolean },
): Promise<Awaited<T>>;
export function waitFor<T>(
  check: () => T | Promise<T>,
  options: Omit<WaitOptions<Awaited<T>>, 'until'>,
): Promise<Exclude<Awaited<T>, undefined | null | false>>;
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitOptions<Awaited<T>>): Promise<Awaited<T>> {
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  const intervalMs = options.intervalMs ?? 100;
  const done = options.until ?? ((value: Awaited<T>) => value !== undefined && value !== null && value !== false);
  const deadline = Date.now() + timeoutMs;
  const last: { checked: boolean; value: unknown } = { checked: false, value: undefined };
  for (;;) {
    const remaining = deadline - Date.now();
    const outcome = await raceDeadline(Promise.resolve().then(check) as Promise<Awaited<T>>, remaining);
    if (outcome.settled) {
      last.checked = true;
      last.value = outcome.value;
      if (done(outcome.value)) return outcome.value;
    }
    if (!outcome.settled || Date.now() >= deadline) {
      throw await timeoutError(options.what, timeoutMs, last, options.context);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Awaits `promise` (a workflow result, a process exit, a ready line) for at most `timeoutMs`;
 * after that throws a {@link WaitTimeoutError} naming `what`. The promise's own rejection
 * passes through unchanged.
 */
export async function within<T>(
  promise: Promise<T>,
  options: Pick<WaitOptions<T>, 'what' | 'timeoutMs' | 'context'>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  const outcome = await raceDeadline(promise, timeoutMs);
  if (outcome.settled) return outcome.value;
  throw await timeoutError(
    options.what,
    timeoutMs,
    { checked: false, value: undefined },
    options.context,
    'it was still pending',
  );
}

/**
 * A test timeout that outlasts the given waits (run one after another) plus
 * {@link TEST_SLACK_MS}, so the inner wait always reports first.
 */
export function outlasting(...waitsMs: number[]): number {
  return waitsMs.reduce((sum, ms) => sum + ms, 0) + TEST_SLACK_MS;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function raceDeadline<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ settled: true; value: T } | { settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<{ settled: false }>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then((value) => ({ settled: true as const, value })), expired]);
  } finally {
    clearTimeout(timer);
  }
}
