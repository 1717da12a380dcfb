import { getRunByWorkflowId, getTaskByIdempotencyKey, readRunLog } from '@activity-core/db';
import {
  cancelTask,
  completeTask,
  startRunActivity,
  TaskConflictError,
  TaskNotFoundError,
  taskStatusQuery,
} from '@activity-core/workflows';
import { describe, expect, test } from 'vitest';
import { workflowResult } from '../support/temporal.ts';
import { outlasting, WAIT_MS, waitFor } from '../support/wait.ts';
import { createOrderDefinition, type Harness, orderEvent, useWorkerHarness } from './harness.ts';

let h: Harness;
useWorkerHarness((harness) => {
  h = harness;
});

/** Runs a one-task definition to its end; the task's workflow has started by then. */
async function runOneTask(overrides: Record<string, unknown> = {}) {
  const definition = await createOrderDefinition(h.db, overrides);
  const { workflowId } = await startRunActivity(h.client, {
    taskQueue: h.taskQueue,
    input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(1) } },
  });
  await workflowResult(h.client, workflowId);
  const run = await getRunByWorkflowId(h.db, workflowId);
  return { definition, run, taskWorkflowId: `task:${workflowId}:review:0` };
}

/** Runs a one-task definition and returns the open task's workflow id. */
async function openTask(overrides: Record<string, unknown> = {}) {
  const started = await runOneTask(overrides);
  await waitFor(async () => (await h.client.workflow.getHandle(started.taskWorkflowId).query(taskStatusQuery)).status, {
    what: `task workflow ${started.taskWorkflowId} to be open`,
    until: (status) => status === 'open',
  });
  return started;
}

/** Messages of one task in the tasks stream, by kind. */
async function eventsOf(taskId: string) {
  const messages = await h.taskMessages();
  return messages
    .filter((m) => (m.body.data as { id: string }).id === taskId)
    .map((m) => String(m.body.type).replace('activitycore.task.', ''));
}

/** `data.definitionVersion` of each message of one task (issue 13: every lifecycle event carries it). */
async function versionsOf(taskId: string) {
  const messages = await h.taskMessages();
  return messages
    .filter((m) => (m.body.data as { id: string }).id === taskId)
    .map((m) => (m.body.data as { definitionVersion?: unknown }).definitionVersion);
}

async function logKinds(runId: string) {
  return (await readRunLog(h.db, runId)).map((e) => e.kind).filter((k) => k.startsWith('task_'));
}

describe('TaskInstanceWorkflow lifecycle', () => {
  test('complete: row, event and log entry exactly once; a second action is a CONFLICT', async () => {
    const { definition, run, taskWorkflowId } = await openTask();
    const view = await completeTask(h.client, taskWorkflowId, { by: 'alice', reason: 'checked', result: { ok: true } });
    expect(view).toMatchObject({ status: 'completed', by: 'alice', reason: 'checked' });

    await expect(completeTask(h.client, taskWorkflowId, { by: 'bob' })).rejects.toBeInstanceOf(TaskConflictError);
    await expect(cancelTask(h.client, taskWorkflowId, { by: 'bob' })).rejects.toBeInstanceOf(TaskConflictError);

    const row = await getTaskByIdempotencyKey(h.db, taskWorkflowId);
    expect(row).toMatchObject({ status: 'completed', completedBy: 'alice', reason: 'checked' });
    expect(row.completedAt).toBeInstanceOf(Date);
    await h.waitForTaskMessages(1);
    expect(await eventsOf(row.id)).toEqual(['created', 'completed']);
    expect(await versionsOf(row.id)).toEqual([definition.version, definition.version]);
    const completed = (await h.taskMessages()).find((m) => m.body.type === 'activitycore.task.completed');
    expect(completed?.subject).toBe(`${h.prefix.toLowerCase()}.tasks.completed.${definition.key}`);
    expect(completed?.body.data).toMatchObject({ status: 'completed', completedBy: 'alice' });
    expect(await logKinds(run.id)).toEqual(['task_created', 'task_completed']);
    const entry = (await readRunLog(h.db, run.id)).find((e) => e.kind === 'task_completed');
    expect(entry?.data).toMatchObject({ by: 'alice', reason: 'checked', result: { ok: true } });
  });

  test('cancel: row, event and log entry exactly once, with who and why', async () => {
    const { definition, run, taskWorkflowId } = await openTask();
    const view = await cancelTask(h.client, taskWorkflowId, { by: 'carol', reason: 'duplicate order' });
    expect(view).toMatchObject({ status: 'cancelled', by: 'carol', reason: 'duplicate order' });
    const row = await getTaskByIdempotencyKey(h.db, taskWorkflowId);
    expect(row).toMatchObject({ status: 'cancelled', completedBy: 'carol', reason: 'duplicate order' });
    await waitFor(() => eventsOf(row.id), {
      what: `the cancelled event of task ${row.id}`,
      until: (e) => e.length === 2,
    });
    expect(await eventsOf(row.id)).toEqual(['created', 'cancelled']);
    expect(await versionsOf(row.id)).toEqual([definition.version, definition.version]);
    expect(await logKinds(run.id)).toEqual(['task_created', 'task_cancelled']);
  });

  test('concurrent complete and cancel: exactly one wins, the other is a CONFLICT', async () => {
    const { run, taskWorkflowId } = await openTask();
    const outcomes = await Promise.allSettled([
      completeTask(h.client, taskWorkflowId, { by: 'dave' }),
      cancelTask(h.client, taskWorkflowId, { by: 'erin' }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reason).toBeInstanceOf(TaskConflictError);
    const row = await getTaskByIdempotencyKey(h.db, taskWorkflowId);
    await waitFor(() => eventsOf(row.id), {
      what: `the closing event of task ${row.id}`,
      until: (e) => e.length === 2,
    });
    expect(await logKinds(run.id)).toHaveLength(2);
  });

  // The run, the task's own end, and its expired event. Not openTask: the task may well have
  // expired (2 s) before a loaded machine gets to look at it.
  const expiryTimeout = outlasting(WAIT_MS, WAIT_MS, WAIT_MS);
  test(
    'expiry: due time plus grace closes the task as expired, exactly once',
    async () => {
      const { definition, run, taskWorkflowId } = await runOneTask({
        taskTemplates: [{ key: 'review', title: 'Quick look', due: 'PT1S', dueGraceSeconds: 1 }],
      });
      // Due after 1 s, expired 1 s later: the task workflow's durable timer, not a sleep here.
      const view = await workflowResult(h.client, taskWorkflowId);
      expect(view).toMatchObject({ status: 'expired', by: 'system' });
      const row = await getTaskByIdempotencyKey(h.db, taskWorkflowId);
      expect(row.status).toBe('expired');
      expect(row.expiresAt?.getTime()).toBe(row.dueAt ? row.dueAt.getTime() + 1000 : Number.NaN);
      await waitFor(() => eventsOf(row.id), {
        what: `the expired event of task ${row.id}`,
        until: (e) => e.length === 2,
      });
      expect(await eventsOf(row.id)).toEqual(['created', 'expired']);
      expect(await versionsOf(row.id)).toEqual([definition.version, definition.version]);
      expect(await logKinds(run.id)).toEqual(['task_created', 'task_expired']);
      await expect(completeTask(h.client, taskWorkflowId, { by: 'late' })).rejects.toBeInstanceOf(TaskConflictError);
    },
    expiryTimeout,
  );

  test('an unknown task id is NOT_FOUND', async () => {
    const error = await completeTask(h.client, 'task:run:nope:review:0', { by: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskNotFoundError);
    expect((error as TaskNotFoundError).code).toBe('NOT_FOUND');
  });
});
