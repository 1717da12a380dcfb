// A stand-in RunActivityWorkflow for the ingest suites: ingest only needs a workflow of that
// name to exist on the task queue. It completes at once, except for the loop test's event
// types, for which it emits the run's task event back into the events stream with the
// causation depth plus one, as the real worker's task events do.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { StandInActivities } from './stand-in.activities.ts';

const { emitTaskCreated } = proxyActivities<StandInActivities>({ startToCloseTimeout: '10 seconds' });

interface Input {
  definitionId: string;
  trigger: { kind: string; envelope?: { type: string } };
}

export async function RunActivityWorkflow(input: Input): Promise<void> {
  const type = input.trigger.envelope?.type;
  if (type === 'loop.start' || type === 'activitycore.task.created') {
    await emitTaskCreated({ ...input, runWorkflowId: workflowInfo().workflowId });
  }
}
