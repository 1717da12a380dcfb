import { getRunByWorkflowId, insertRunOrGet, listTasks, readRunLog } from '@activity-core/db';
import type { PlannedChild, RunSpawnState } from '@activity-core/workflows';
import { type RunActivityInput, type RunActivityResult, WorkflowTypes } from '@activity-core/workflows';
import { describe, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { executionCount, workflowResult } from '../support/temporal.ts';
import { waitFor } from '../support/wait.ts';
import { createOrderDefinition, type Harness, plannedReview, useWorkerHarness } from './harness.ts';

let h: Harness;
useWorkerHarness((harness) => {
  h = harness;
});

describe('large fan-out', () => {
  // A real 1000+-task run is too heavy for the shared CI machine, so the spawning phase is
  // entered directly with a small per-run budget: the same code path a big plan takes.
  test('spawning continues as new past the per-run budget and still starts every child once', async () => {
    const definition = await createOrderDefinition(h.db);
    const key = uniqueId('fan-');
    const runWorkflowId = `run:${definition.id}:manual:${key}`;
    const { run } = await insertRunOrGet(h.db, {
      definitionId: definition.id,
      definitionVersion: 1,
      triggerKind: 'manual',
      triggerKey: `manual:${key}`,
      workflowId: runWorkflowId,
    });
    const children: PlannedChild[] = Array.from({ length: 12 }, (_, index) => ({
      workflowId: `task:${runWorkflowId}:review:${index}`,
      task: plannedReview(index, `Task ${index}`),
    }));
    const input: RunActivityInput = {
      definitionId: definition.id,
      trigger: { kind: 'manual', requestedBy: 'test', idempotencyKey: key },
    };
    const resume: RunSpawnState = {
      runId: run.id,
      definitionKey: definition.key,
      version: 1,
      tasksPlanned: 12,
      remaining: children,
      started: 0,
      childrenPerRun: 5,
    };
    const handle = await h.client.workflow.start(WorkflowTypes.runActivity, {
      taskQueue: h.taskQueue,
      workflowId: runWorkflowId,
      args: [input, resume],
    });
    const result: RunActivityResult = await workflowResult(h.client, runWorkflowId);
    expect(result).toMatchObject({ status: 'succeeded', tasksPlanned: 12, tasksStarted: 12 });

    // 5 + 5 + 2: three runs in the chain.
    // Continue-as-new keeps the workflow id: each link of the chain is an execution under it.
    await waitFor(() => executionCount(h.client, runWorkflowId), {
      what: `three executions (the continue-as-new chain) of ${runWorkflowId} in visibility`,
      until: (n) => n === 3,
    });
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);

    await waitFor(async () => (await listTasks(h.db, { runId: run.id, limit: 100 })).items.length, {
      what: `12 task rows of run ${run.id}`,
      until: (n) => n === 12,
    });
    const tasks = (await listTasks(h.db, { runId: run.id })).items;
    expect(new Set(tasks.map((t) => t.index)).size).toBe(12);
    expect((await getRunByWorkflowId(h.db, runWorkflowId)).status).toBe('succeeded');
    const finished = (await readRunLog(h.db, run.id)).filter((e) => e.kind === 'run_finished');
    expect(finished).toHaveLength(1);
  });
});
