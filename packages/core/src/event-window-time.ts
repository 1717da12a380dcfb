// When an event window closes by time, and the bounds of windows. A module of its own, without
// zod or luxon: EventWindowWorkflow uses it (through `@activity-core/core/workflow-ids`), and
// Temporal evaluates workflow code's modules once per execution.
import { assertNever } from './errors.ts';
import type { WindowCloseReason, WindowProgress, WindowSettings } from './event-window.ts';

/** The documented bounds of event windows (README, "Event windows"). */
export const WINDOW_LIMITS = {
  /** Shortest `quiet`, `maxWait` and `duration`: one second. */
  minDurationMs: 1_000,
  /** Longest `quiet`, `maxWait` and `duration`: seven days; also `maxWait` when it is not given. */
  maxDurationMs: 7 * 86_400_000,
  /** Largest `maxEvents` of a batch window; also its default. */
  maxBatchEvents: 1_000,
  /** Events a window keeps for its run (`events`); later ones are counted, not kept. */
  maxStoredEvents: 1_000,
  /** JSON bytes of the kept events together; an event that does not fit is counted, not kept. */
  maxStoredBytes: 512 * 1024,
  /** Characters of a window key. */
  maxKeyLength: 512,
  /** Types of an `allOf` window. */
  minAllOfTypes: 2,
  maxAllOfTypes: 16,
} as const;

/** When the window closes if no event changes it, and why. */
export function windowDeadline(
  settings: WindowSettings,
  progress: WindowProgress,
): { readonly at: number; readonly reason: WindowCloseReason } {
  switch (settings.mode) {
    case 'debounce': {
      const quiet = progress.lastAt + settings.quietMs;
      const maxWait = progress.openedAt + settings.maxWaitMs;
      return quiet < maxWait ? { at: quiet, reason: 'quiet' } : { at: maxWait, reason: 'maxWait' };
    }
    case 'batch':
      return { at: progress.openedAt + settings.durationMs, reason: 'duration' };
    case 'allOf':
      return { at: progress.openedAt + settings.durationMs, reason: 'expired' };
    default:
      return assertNever(settings, 'window settings');
  }
}

/** The reason the window is closed by time at `now` (an event arriving then opens the next one), or null. */
export function closedByTime(
  settings: WindowSettings,
  progress: WindowProgress,
  now: number,
): WindowCloseReason | null {
  const deadline = windowDeadline(settings, progress);
  return now >= deadline.at ? deadline.reason : null;
}
