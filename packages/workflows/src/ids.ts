import { eventKey, runWorkflowIdForCron, runWorkflowIdForEvent, runWorkflowIdForManual } from '@activity-core/core';
import type { RunActivityInput } from './contract.ts';

/**
 * The run's deterministic workflow id: `run:{definitionId}:{eventKey}`,
 * `run:{definitionId}:cron:{nominalTime}` or `run:{definitionId}:manual:{idempotencyKey}`.
 * Pure: used by clients and inside the workflow.
 */
export function runWorkflowIdFor(input: Pick<RunActivityInput, 'definitionId' | 'trigger'>): string {
  const { definitionId, trigger } = input;
  switch (trigger.kind) {
    case 'event':
      return runWorkflowIdForEvent(definitionId, eventKey(trigger.envelope));
    case 'cron':
      return runWorkflowIdForCron(definitionId, trigger.nominalTime);
    case 'manual':
      return runWorkflowIdForManual(definitionId, trigger.idempotencyKey);
    default:
      return assertNeverTrigger(trigger);
  }
}

/**
 * The run's trigger key, unique per definition (backs the workflow id up in the runs table past
 * Temporal's retention): the workflow id without its `run:{definitionId}:` prefix, i.e. the
 * event key, `cron:{nominalTime}` or `manual:{idempotencyKey}`.
 */
export function runTriggerKey(input: Pick<RunActivityInput, 'definitionId' | 'trigger'>): string {
  return runWorkflowIdFor(input).slice(`run:${input.definitionId}:`.length);
}

function assertNeverTrigger(trigger: never): never {
  throw new TypeError(`unknown run trigger ${JSON.stringify(trigger)}`);
}
