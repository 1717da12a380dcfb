// The raw baselines of bench/pipeline.ts: the least Temporal work that turns one event into one
// published task, with no product code.
//   (a) baselineA: a workflow whose one (regular) activity publishes to NATS;
//   (b) baselineB: a parent that starts `tasks` children (ABANDON, waiting only for each start,
//       in batches like the product's) whose one LOCAL activity publishes to NATS.
import {
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { BaselineActivities } from './baseline.activities.ts';

const remote = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });

/** The product's child batch: children started concurrently per workflow task. */
const BATCH = 50;

export async function baselineA(eventId: string): Promise<void> {
  await remote.publishTask({ eventId, taskId: workflowInfo().workflowId });
}

export async function baselineB(eventId: string, tasks = 1): Promise<void> {
  const parent = workflowInfo().workflowId;
  for (let from = 0; from < tasks; from += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, tasks - from) }, (_, i) => from + i);
    await Promise.all(
      batch.map((i) =>
        startChild(baselineTask, {
          workflowId: `${parent}:task:${i}`,
          args: [eventId],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          cancellationType: 'ABANDON',
        }),
      ),
    );
  }
}

export async function baselineTask(eventId: string): Promise<void> {
  await local.publishTask({ eventId, taskId: workflowInfo().workflowId });
}
