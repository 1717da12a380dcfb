// The run and task metrics count state changes, not activity attempts: each activity is called
// twice with the same input, as Temporal does when an attempt's result is lost, and a second
// run's status is written by another replica first. Real PostgreSQL; the metrics port records.
import { type ActivityMetrics, createActivities } from '@activity-core/activities';
import { changeRunStatus } from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import type { PlannedChild, TaskInstanceInput } from '@activity-core/workflows';
import { describe, expect, test } from 'vitest';
import { someDefinition, someRun, useMigratedDb } from '../db/fixture.ts';
import { uniqueId } from '../support/stack.ts';
import { plannedReview, quietLogger } from './harness.ts';

const ctx = useMigratedDb(4);

function recorder() {
  const seen = { started: [] as string[], finished: [] as string[], created: 0, closed: [] as string[], ignored: 0 };
  const metrics: ActivityMetrics = {
    runStarted: (kind) => seen.started.push(kind),
    runFinished: (run) => seen.finished.push(`${run.triggerKind}:${run.status}`),
    tasksCreated: (n) => {
      seen.created += n;
    },
    taskClosed: (outcome) => seen.closed.push(outcome),
    windowEventsIgnored: (n) => {
      seen.ignored += n;
    },
  };
  return { seen, metrics };
}

function activitiesWith(metrics: ActivityMetrics) {
  const { db } = ctx();
  return createActivities({
    db,
    logger: quietLogger,
    topology: topology(uniqueId('M')),
    http: { allowedHosts: [], env: {} },
    metrics,
  });
}

describe('run and task metrics', () => {
  test('a retried writeTasks and closeTask count one task created, one run finished, one task closed', async () => {
    const { db } = ctx();
    const { seen, metrics } = recorder();
    const activities = activitiesWith(metrics);
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const child: PlannedChild = {
      workflowId: `task:${run.workflowId}:review:0`,
      taskId: crypto.randomUUID(),
      task: plannedReview(0, 'Review'),
    };
    const write = {
      runId: run.id,
      runWorkflowId: run.workflowId,
      definitionId: def.id,
      definitionKey: def.key,
      definitionVersion: def.version,
      causation: { depth: 0 },
      tasks: [child],
      finish: { status: 'succeeded' as const, tasksPlanned: 1, tasksStarted: 1 },
    };
    await activities.writeTasks(write);
    await activities.writeTasks(write);
    expect(seen.created).toBe(1);
    expect(seen.finished).toEqual(['event:succeeded']);

    const task: TaskInstanceInput = { ...write, workflowId: child.workflowId, taskId: child.taskId, task: child.task };
    const close = { task, taskId: child.taskId as string, to: 'completed' as const, action: { by: 'alice' } };
    await activities.closeTask(close);
    await activities.closeTask(close);
    expect(seen.closed).toEqual(['completed']);
    // Finishing a finished run again (a replayed finishRun) writes nothing and counts nothing.
    await activities.finishRun({ runId: run.id, status: 'succeeded' });
    expect(seen.finished).toEqual(['event:succeeded']);
  });

  test('a retried recordFailedRun counts one run started and one failed; a status another replica wrote counts here not at all', async () => {
    const { db } = ctx();
    const { seen, metrics } = recorder();
    const activities = activitiesWith(metrics);
    const def = await someDefinition(db);
    const key = uniqueId('k-');
    const input = {
      runWorkflowId: `run:${def.id}:manual:${key}`,
      triggerKey: key,
      definitionId: def.id,
      trigger: { kind: 'manual' as const, requestedBy: 'ops', idempotencyKey: key },
      error: { type: 'BadInput', message: 'no' },
    };
    await activities.recordFailedRun(input);
    await activities.recordFailedRun(input);
    expect(seen.started).toEqual(['manual']);
    expect(seen.finished).toEqual(['manual:failed']);

    const other = await someRun(db, def);
    expect((await changeRunStatus(db, { id: other.id, to: 'failed', error: { type: 'X' } })).changed).toBe(true);
    await activities.finishRun({ runId: other.id, status: 'failed', error: { type: 'X', message: 'x' } });
    expect(seen.finished).toEqual(['manual:failed']);
  });
});
