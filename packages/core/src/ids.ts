/**
 * Deterministic workflow ids: the structural half of effectively-once processing.
 * A retried start with the same id is recognised by Temporal (and by the runs table).
 */

/** `run:{definitionId}:{eventKey}` for an event-triggered run. */
export function runWorkflowIdForEvent(definitionId: string, eventKey: string): string {
  return `run:${definitionId}:${eventKey}`;
}

/** `run:{definitionId}:cron:{nominalTime}`; `nominalTime` as an ISO string or a Date (normalised to ISO UTC). */
export function runWorkflowIdForCron(definitionId: string, nominalTime: string | Date): string {
  const iso = typeof nominalTime === 'string' ? new Date(nominalTime).toISOString() : nominalTime.toISOString();
  return `run:${definitionId}:cron:${iso}`;
}

/** `run:{definitionId}:manual:{idempotencyKey}` for a run triggered through the API. */
export function runWorkflowIdForManual(definitionId: string, idempotencyKey: string): string {
  return `run:${definitionId}:manual:${idempotencyKey}`;
}

/** `task:{runWorkflowId}:{templateKey}:{index}`; also the TaskInstance idempotency key. */
export function taskWorkflowId(runWorkflowId: string, templateKey: string, index: number): string {
  return `task:${runWorkflowId}:${templateKey}:${index}`;
}
