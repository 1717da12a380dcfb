import type { Client, Workflow, WorkflowResultType } from '@temporalio/client';
import { WAIT_MS, within } from './wait.ts';

/** How many executions (runs) Temporal's visibility lists under this workflow id. */
export async function executionCount(client: Client, workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) n++;
  return n;
}

/**
 * The result of workflow `workflowId`, or a timeout error naming it after `timeoutMs`
 * (default {@link WAIT_MS}). Its failure passes through unchanged.
 */
export function workflowResult<W extends Workflow = Workflow>(
  client: Client,
  workflowId: string,
  timeoutMs = WAIT_MS,
): Promise<WorkflowResultType<W>> {
  return within(client.workflow.getHandle<W>(workflowId).result(), {
    what: `workflow ${workflowId} to finish`,
    timeoutMs,
  });
}
