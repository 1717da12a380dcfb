import type { FilterFailure } from '@activity-core/core';
import type { Logger } from '@activity-core/runtime';

/** One log line per definition per interval, however many events its filter fails on. */
export const FILTER_ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * Logs filter failures once per definition and interval: the first failure at once, later ones
 * at most every `intervalMs` with the number left out since. The metric counts every one.
 */
export class FilterFailureLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(logger: Logger, options: { intervalMs?: number; now?: () => number } = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? FILTER_ERROR_LOG_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  record(failure: FilterFailure, event: { seq: number; subject: string; eventKey: string }): void {
    const now = this.#now();
    const last = this.#last.get(failure.key);
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    this.#last.set(failure.key, { at: now, suppressed: 0 });
    this.#logger.warn('definition filter failed; the event is parked in the DLQ as filter_error for it', {
      definitionKey: failure.key,
      definitionId: failure.id,
      version: failure.version,
      code: failure.code,
      error: failure.message,
      eventKey: event.eventKey,
      seq: event.seq,
      subject: event.subject,
      ...(last ? { suppressedSinceLastLog: last.suppressed } : {}),
    });
  }
}
