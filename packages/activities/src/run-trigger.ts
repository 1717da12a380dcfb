// What the run-side activities make of a run's trigger: the variables templates and rules see,
// the run-log description, and the delay a Schedule added to a cron start. Pure.
import {
  type ActivityDefinitionSpec,
  type EventEnvelope,
  emptyWindowVariables,
  eventKey,
  type JsonObject,
  type RunVariablesInput,
  windowVariables,
} from '@activity-core/core';
import type { RunTrigger } from '@activity-core/workflows';

/** The trigger as templates and rules see it (`trigger.kind`, `trigger.eventKey`, …). */
export function triggerVars(trigger: RunTrigger): Record<string, unknown> {
  switch (trigger.kind) {
    case 'event':
      return { kind: 'event', eventKey: eventKey(trigger.envelope), type: trigger.envelope.type };
    case 'cron':
      return { kind: 'cron', nominalTime: trigger.nominalTime, scheduleId: trigger.scheduleId };
    case 'manual':
      return {
        kind: 'manual',
        requestedBy: trigger.requestedBy,
        idempotencyKey: trigger.idempotencyKey,
        payload: trigger.payload ?? null,
      };
    case 'window':
      return {
        kind: 'window',
        key: trigger.window.key,
        mode: trigger.window.mode,
        reason: trigger.window.reason,
        openingEventKey: trigger.window.openingEventKey,
      };
    default:
      return assertNeverTrigger(trigger);
  }
}

/** The correlation fields of a run's log lines that come from its trigger (`eventKey` for events). */
export function triggerLogFields(trigger: RunTrigger): { eventKey?: string; triggerKind: RunTrigger['kind'] } {
  return trigger.kind === 'event'
    ? { triggerKind: 'event', eventKey: eventKey(trigger.envelope) }
    : { triggerKind: trigger.kind };
}

/**
 * The event variables of a run: `event` (a window's last kept event), and for a windowed
 * definition `events` and `window` (empty for a run no window started, e.g. a manual one).
 */
export function eventVars(
  trigger: RunTrigger,
  spec: ActivityDefinitionSpec,
  now: string,
): { readonly event: unknown } & Pick<RunVariablesInput, 'events' | 'window'> {
  if (trigger.kind === 'window') {
    return {
      event: trigger.events[trigger.events.length - 1],
      events: trigger.events,
      window: windowVariables(trigger.window),
    };
  }
  const event = trigger.kind === 'event' ? trigger.envelope : undefined;
  const window = spec.trigger.kind === 'event' ? spec.trigger.event.window : undefined;
  if (window === undefined) return { event };
  return { event, events: event ? [event] : [], window: emptyWindowVariables(window.mode, now) };
}

/**
 * The delay the Schedule added to a cron start (jitter plus scheduler latency), or null when
 * the start is later than any jitter could explain (backfill, catch-up after an outage, a
 * manual start of an old occurrence): that is lateness, which the misfire entry records.
 */
export function scheduleDelayMs(nominalTime: string, startedAt: string | undefined): number | null {
  if (startedAt === undefined) return null;
  const delay = Math.max(0, Date.parse(startedAt) - Date.parse(nominalTime));
  return delay <= MAX_JITTER_MS ? delay : null;
}

/** CronTriggerConfig allows jitter up to an hour; a minute more covers scheduler latency. */
const MAX_JITTER_MS = 3_600_000 + 60_000;

export function describeTrigger(trigger: RunTrigger): JsonObject {
  switch (trigger.kind) {
    case 'event': {
      const e: EventEnvelope = trigger.envelope;
      const replay = trigger.replayKey !== undefined ? { replayKey: trigger.replayKey } : {};
      return { kind: 'event', id: e.id, source: e.source, type: e.type, eventKey: eventKey(e), ...replay };
    }
    case 'cron':
      return { kind: 'cron', nominalTime: trigger.nominalTime, scheduleId: trigger.scheduleId };
    case 'manual':
      return { kind: 'manual', requestedBy: trigger.requestedBy, idempotencyKey: trigger.idempotencyKey };
    case 'window':
      return {
        kind: 'window',
        key: trigger.window.key,
        mode: trigger.window.mode,
        reason: trigger.window.reason,
        count: trigger.window.count,
        kept: trigger.window.stored,
        openingEventKey: trigger.window.openingEventKey,
      };
    default:
      return assertNeverTrigger(trigger);
  }
}

function assertNeverTrigger(trigger: never): never {
  throw new TypeError(`unknown run trigger ${JSON.stringify(trigger)}`);
}
