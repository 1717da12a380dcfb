import { toCelValue } from './cel.ts';

/** What a run's rules, templates and context-source templates see, before CEL conversion. */
export interface RunVariablesInput {
  /** The triggering envelope; for a window, its last event. `{}` when absent (cron, manual). */
  readonly event?: unknown;
  /** Windowed definitions: the window's events in arrival order. */
  readonly events?: readonly unknown[];
  /** Windowed definitions: see `windowVariables`. */
  readonly window?: Record<string, unknown>;
  readonly context: Record<string, unknown>;
  readonly trigger: Record<string, unknown>;
  readonly definition: { readonly id: string; readonly key: string; readonly version: number };
  /** RFC 3339. */
  readonly now: string;
}

/**
 * The CEL variables of a run: `event`, `context`, `trigger`, `definition`, `now`, and for a
 * windowed definition `events` and `window`. One place, so context sources and templates see
 * the same values.
 */
export function runVariables(input: RunVariablesInput): Record<string, unknown> {
  return {
    event: toCelValue(input.event ?? {}),
    context: toCelValue(input.context),
    trigger: toCelValue(input.trigger),
    definition: toCelValue(input.definition),
    now: new Date(Date.parse(input.now)),
    ...(input.events !== undefined ? { events: toCelValue(input.events) } : {}),
    ...(input.window !== undefined ? { window: toCelValue(input.window) } : {}),
  };
}
