/**
 * The id scheme of runs and tasks: deterministic workflow ids and trigger keys, the structural
 * half of effectively-once processing. A retried start with the same id is recognised by
 * Temporal, and a repeated trigger key by the runs table's unique `(definition_id, trigger_key)`.
 * Pure: used by clients, activities and workflow code alike. Workflow code imports it as
 * `@activity-core/core/workflow-ids`: Temporal evaluates a workflow's modules anew for every
 * execution, so this module reaches nothing heavier than a hash (no zod, CEL, re2 or luxon).
 */
import type { EventEnvelope } from './envelope.ts';
import { assertNever } from './errors.ts';
import { eventKey } from './event-key.ts';
import type { WindowSummary } from './event-window.ts';

/** What a run's id derives from: the part of its trigger that identifies it. */
export type RunTriggerIdentity =
  | {
      readonly kind: 'event';
      readonly envelope: Pick<EventEnvelope, 'source' | 'id'>;
      /** Set when a stored event is replayed into the definition (`definitions.replay`): the replay's scope. */
      readonly replayKey?: string;
    }
  | { readonly kind: 'cron'; readonly nominalTime: string }
  | { readonly kind: 'manual'; readonly idempotencyKey: string }
  | { readonly kind: 'window'; readonly window: Pick<WindowSummary, 'keyHash' | 'openingEventKey'> };

/** `run:{definitionId}:{triggerKey}`. */
export function runWorkflowId(definitionId: string, triggerKey: string): string {
  return `run:${definitionId}:${triggerKey}`;
}

/**
 * The run's trigger key, unique per definition: the event key (a replayed event:
 * `replay:{replayKey}:{eventKey}`), `cron:{nominalTime}`, `manual:{idempotencyKey}` or
 * `window:{keyHash}:{openingEventKey}`. A run started by a Temporal Schedule has the key
 * Temporal formed instead ({@link scheduledRunTriggerKey}).
 */
export function runTriggerKey(trigger: RunTriggerIdentity): string {
  switch (trigger.kind) {
    case 'event':
      return trigger.replayKey === undefined
        ? eventKey(trigger.envelope)
        : replayTriggerKey(trigger.replayKey, eventKey(trigger.envelope));
    case 'cron':
      return `cron:${new Date(trigger.nominalTime).toISOString()}`;
    case 'manual':
      return `manual:${trigger.idempotencyKey}`;
    case 'window':
      return windowTriggerKey(trigger.window.keyHash, trigger.window.openingEventKey);
    default:
      return assertNever(trigger, 'run trigger');
  }
}

/**
 * The run's deterministic workflow id: `run:{definitionId}:{eventKey}` (a replayed event:
 * `run:{definitionId}:replay:{replayKey}:{eventKey}`), `run:{definitionId}:cron:{nominalTime}`
 * or `run:{definitionId}:manual:{idempotencyKey}`.
 */
export function runWorkflowIdFor(input: {
  readonly definitionId: string;
  readonly trigger: RunTriggerIdentity;
}): string {
  return runWorkflowId(input.definitionId, runTriggerKey(input.trigger));
}

/** `run:{definitionId}:{eventKey}` for an event-triggered run. */
export function runWorkflowIdForEvent(definitionId: string, eventKey: string): string {
  return runWorkflowId(definitionId, eventKey);
}

/**
 * `replay:{replayKey}:{eventKey}`: the trigger key of a stored event replayed into a definition
 * (`definitions.replay`). One run per event and replay key, apart from the run the event may
 * have had live (trigger key `{eventKey}`, a hex hash, so the two cannot collide); a second
 * replay under the same key finds its runs and starts nothing.
 */
export function replayTriggerKey(replayKey: string, eventKey: string): string {
  return `replay:${replayKey}:${eventKey}`;
}

/** `run:{definitionId}:replay:{replayKey}:{eventKey}` for a replayed event. */
export function runWorkflowIdForReplay(definitionId: string, replayKey: string, eventKey: string): string {
  return runWorkflowId(definitionId, replayTriggerKey(replayKey, eventKey));
}

/** `run:{definitionId}:cron:{nominalTime}`; `nominalTime` as an ISO string or a Date (normalised to ISO UTC). */
export function runWorkflowIdForCron(definitionId: string, nominalTime: string | Date): string {
  const iso = typeof nominalTime === 'string' ? nominalTime : nominalTime.toISOString();
  return runWorkflowId(definitionId, runTriggerKey({ kind: 'cron', nominalTime: iso }));
}

/** `run:{definitionId}:manual:{idempotencyKey}` for a run triggered through the API. */
export function runWorkflowIdForManual(definitionId: string, idempotencyKey: string): string {
  return runWorkflowId(definitionId, runTriggerKey({ kind: 'manual', idempotencyKey }));
}

/**
 * Base of the workflow id of a Schedule's runs. Temporal appends `-{nominal time}` (RFC 3339,
 * seconds) to it, so a cron run's workflow id is `run:{definitionId}:cron-2027-01-01T09:00:00Z`:
 * deterministic per occurrence, and two occurrences cannot collide (cron has minute
 * resolution, the suffix second resolution).
 */
export function scheduledRunWorkflowIdBase(definitionId: string): string {
  return runWorkflowId(definitionId, 'cron');
}

/**
 * The trigger key of a run a Temporal Schedule started for the occurrence `nominalTime`: the
 * suffix Temporal gave its workflow id after `run:{definitionId}:` (`cron-` and the nominal
 * time in RFC 3339 to the second, see {@link scheduledRunWorkflowIdBase}).
 */
export function scheduledRunTriggerKey(nominalTime: string | Date): string {
  const iso = new Date(nominalTime).toISOString();
  return `cron-${iso.slice(0, 19)}Z`;
}

/** `task:{runWorkflowId}:{templateKey}:{index}`; also the TaskInstance idempotency key. */
export function taskWorkflowId(runWorkflowId: string, templateKey: string, index: number): string {
  return `task:${runWorkflowId}:${templateKey}:${index}`;
}

/**
 * The trigger key of a window's run: `window:{keyHash}:{openingEventKey}`. An event joins at
 * most one window of a definition (the `run_events` claim), so the first event of a window
 * names it for good: a later window of the same key starts with another event.
 */
export function windowTriggerKey(keyHash: string, openingEventKey: string): string {
  return `window:${keyHash}:${openingEventKey}`;
}

/** `run:{definitionId}:window:{keyHash}:{openingEventKey}`: the run a closed window hands its events to. */
export function runWorkflowIdForWindow(definitionId: string, keyHash: string, openingEventKey: string): string {
  return runWorkflowId(definitionId, windowTriggerKey(keyHash, openingEventKey));
}

/**
 * `window:{definitionId}:{keyHash}`: the workflow that collects one key's events into windows,
 * one window after the other. Ingest signals-with-start it for every matching event: any
 * replica, on any redelivery, derives the same id from the definition and the event alone,
 * and Temporal runs at most one execution per id, so one key's events are ordered in one place.
 */
export function windowWorkflowId(definitionId: string, keyHash: string): string {
  return `window:${definitionId}:${keyHash}`;
}

// The rest of what workflow code needs from the core, from modules as light as this one.
export { eventKey } from './event-key.ts';
export { closedByTime, WINDOW_LIMITS, windowDeadline } from './event-window-time.ts';
