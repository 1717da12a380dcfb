import type { RunTrigger, TaskCausation } from './contract.ts';

/**
 * Causation of a run's task events: the triggering event's depth plus one (cron and manual
 * runs count as depth 0), its id as causation id, its correlation id or else the run's id.
 * Pure: used inside workflow code.
 */
export function causationOf(trigger: RunTrigger, runWorkflowId: string): TaskCausation {
  if (trigger.kind !== 'event') return { depth: 1, correlationId: runWorkflowId };
  const e = trigger.envelope;
  return {
    depth: (e.causationdepth ?? 0) + 1,
    causationId: e.id,
    correlationId: e.correlationid ?? runWorkflowId,
    ...(e.traceparent ? { traceparent: e.traceparent } : {}),
  };
}
