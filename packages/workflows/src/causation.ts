import type { RunTrigger, TaskCausation } from './contract.ts';

/**
 * Causation of a run's task events: the triggering event's depth plus one (cron and manual
 * runs count as depth 0), its id as causation id, its correlation id or else the run's id. A
 * window's run: the deepest of its events plus one, and the last event as the cause.
 * Pure: used inside workflow code.
 */
export function causationOf(trigger: RunTrigger, runWorkflowId: string): TaskCausation {
  if (trigger.kind === 'window') {
    // The window's last kept event caused the run; the deepest event bounds the loop guard.
    const last = trigger.events[trigger.events.length - 1];
    const depth = trigger.events.reduce((max, e) => Math.max(max, e.causationdepth ?? 0), 0) + 1;
    if (!last) return { depth, correlationId: runWorkflowId };
    return {
      depth,
      causationId: last.id,
      correlationId: last.correlationid ?? runWorkflowId,
      ...(last.traceparent ? { traceparent: last.traceparent } : {}),
    };
  }
  if (trigger.kind !== 'event') return { depth: 1, correlationId: runWorkflowId };
  const e = trigger.envelope;
  return {
    depth: (e.causationdepth ?? 0) + 1,
    causationId: e.id,
    correlationId: e.correlationid ?? runWorkflowId,
    ...(e.traceparent ? { traceparent: e.traceparent } : {}),
  };
}
