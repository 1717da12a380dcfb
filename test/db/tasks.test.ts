import { TaskInstance, taskWorkflowId } from '@activity-core/core';
import {
  getTask,
  InvalidTransitionError,
  insertTaskIfAbsent,
  listExpiredOpenTasks,
  listTasks,
  type NewTask,
  openTasksByDedupeKey,
  type RunRecord,
  type TaskRecord,
  toTaskInstance,
  transitionTask,
} from '@activity-core/db';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { rawQuery, someDefinition, someRun, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(24);

function newTask(run: RunRecord, index: number, extra: Partial<NewTask> = {}): NewTask {
  return {
    runId: run.id,
    definitionId: run.definitionId,
    definitionKey: 'some-def',
    definitionVersion: run.definitionVersion,
    templateKey: 'review',
    index,
    idempotencyKey: taskWorkflowId(run.workflowId, 'review', index),
    title: `Review ${index}`,
    labels: ['team:ops'],
    payload: { index },
    ...extra,
  };
}

const created = (task: TaskRecord) => ({
  subject: `tasks.created.test`,
  headers: { 'ce-type': 'task.created' },
  body: { type: 'task.created', data: { id: task.id, idempotencyKey: task.idempotencyKey } },
});

async function outboxFor(url: string, taskId: string): Promise<number> {
  const r = await rawQuery(url, `select count(*)::int as n from outbox where body->'data'->>'id' = $1`, [taskId]);
  return (r.rows[0] as { n: number }).n;
}

describe('tasks', () => {
  it('concurrent inserts with one idempotency key give one row and one outbox row', async () => {
    const { db, url } = ctx();
    const run = await someRun(db, await someDefinition(db));
    const results = await Promise.all(
      Array.from({ length: 12 }, () => insertTaskIfAbsent(db, newTask(run, 0), created)),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const ids = new Set(results.map((r) => r.task.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    const rows = await rawQuery(url, 'select count(*)::int as n from task_instances where run_id = $1', [run.id]);
    expect((rows.rows[0] as { n: number }).n).toBe(1);
    expect(await outboxFor(url, id)).toBe(1);
    const task = await getTask(db, id);
    expect(task).toMatchObject({
      status: 'open',
      labels: ['team:ops'],
      payload: { index: 0 },
      index: 0,
      workflowId: `task:${run.workflowId}:review:0`,
      completedAt: null,
    });
    // The core TaskInstance (what tasks.* events carry) is derived without loss.
    const instance = toTaskInstance(task);
    expect(TaskInstance.parse(instance)).toEqual(instance);
    expect(instance.createdAt).toBe(task.createdAt.toISOString());
  });

  it('a failing outbox write rolls the task back', async () => {
    const { db, url } = ctx();
    const run = await someRun(db, await someDefinition(db));
    const task = newTask(run, 1);
    await expect(insertTaskIfAbsent(db, task, () => ({ subject: '', body: {} }))).rejects.toMatchObject({
      code: '23514',
    });
    const r = await rawQuery(url, 'select count(*)::int as n from task_instances where idempotency_key = $1', [
      task.idempotencyKey,
    ]);
    expect((r.rows[0] as { n: number }).n).toBe(0);
  });

  it('transitions are guarded and write their outbox row in the same transaction', async () => {
    const { db, url } = ctx();
    const run = await someRun(db, await someDefinition(db));
    const { task } = await insertTaskIfAbsent(db, newTask(run, 0));
    const completed = (t: TaskRecord) => ({
      subject: 'tasks.completed.test',
      body: { data: { id: t.id, status: t.status } },
    });
    const done = await transitionTask(
      db,
      { id: task.id, to: 'completed', by: 'alice', reason: 'looked fine' },
      completed,
    );
    expect(done.changed).toBe(true);
    expect(done.task).toMatchObject({ status: 'completed', completedBy: 'alice', reason: 'looked fine' });
    expect(done.task.completedAt).toBeInstanceOf(Date);
    expect(await outboxFor(url, task.id)).toBe(1);
    const again = await transitionTask(db, { id: task.id, to: 'completed', by: 'bob' }, completed);
    expect(again).toEqual({ task: done.task, changed: false });
    expect(await outboxFor(url, task.id)).toBe(1);
    const cancel = await transitionTask(db, { id: task.id, to: 'cancelled' }).catch((e: unknown) => e);
    expect(cancel).toBeInstanceOf(InvalidTransitionError);
    expect((cancel as InvalidTransitionError).data).toMatchObject({ from: 'completed', to: 'cancelled' });
  });

  it('concurrent complete and cancel: exactly one wins', async () => {
    const { db } = ctx();
    const run = await someRun(db, await someDefinition(db));
    const { task } = await insertTaskIfAbsent(db, newTask(run, 0));
    const results = await Promise.allSettled([
      transitionTask(db, { id: task.id, to: 'completed' }),
      transitionTask(db, { id: task.id, to: 'cancelled' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(InvalidTransitionError);
  });

  it('list with filters (status, labels, time) and keyset pagination over inserts in between', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const t0 = new Date();
    const first: string[] = [];
    for (let i = 0; i < 7; i++) {
      const labels = i % 2 === 0 ? ['team:ops', 'env:prod'] : ['team:dev'];
      first.push((await insertTaskIfAbsent(db, newTask(run, i, { labels }))).task.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let n = 100;
    do {
      const page = await listTasks(db, { definitionId: def.id, limit: 3, cursor });
      seen.push(...page.items.map((t) => t.id));
      cursor = page.nextCursor;
      await insertTaskIfAbsent(db, newTask(run, n++));
    } while (cursor);
    expect(seen.sort()).toEqual([...first].sort());

    const prod = await listTasks(db, { definitionId: def.id, labels: ['env:prod'] });
    expect(prod.items).toHaveLength(4);
    expect(prod.items.every((t) => t.labels.includes('env:prod'))).toBe(true);
    const both = await listTasks(db, { definitionId: def.id, labels: ['env:prod', 'team:dev'] });
    expect(both.items).toEqual([]);
    const [firstId] = first as [string];
    await transitionTask(db, { id: firstId, to: 'cancelled' });
    const open = await listTasks(db, { runId: run.id, status: 'open', limit: 500 });
    expect(open.items.some((t) => t.id === firstId)).toBe(false);
    const cancelled = await listTasks(db, { definitionId: def.id, status: ['cancelled'] });
    expect(cancelled.items.map((t) => t.id)).toEqual([firstId]);
    const later = await listTasks(db, { definitionId: def.id, createdFrom: new Date(Date.now() + 60_000) });
    expect(later.items).toEqual([]);
    const since = await listTasks(db, { definitionId: def.id, createdFrom: t0, limit: 500 });
    expect(since.items.length).toBe(first.length + (n - 100));
  });

  it('open tasks by dedupe key, and the expiry sweep', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const dedupeKey = uniqueId('dd');
    const past = new Date(Date.now() - 1000);
    const a = (await insertTaskIfAbsent(db, newTask(run, 0, { dedupeKey, expiresAt: past }))).task;
    const b = (await insertTaskIfAbsent(db, newTask(run, 1, { dedupeKey }))).task;
    expect((await openTasksByDedupeKey(db, def.id, dedupeKey)).map((t) => t.id)).toEqual([a.id, b.id]);
    expect((await listExpiredOpenTasks(db, new Date())).map((t) => t.id)).toContain(a.id);
    await transitionTask(db, { id: a.id, to: 'expired', reason: 'expires_at passed' });
    expect((await openTasksByDedupeKey(db, def.id, dedupeKey)).map((t) => t.id)).toEqual([b.id]);
    expect((await listExpiredOpenTasks(db, new Date())).map((t) => t.id)).not.toContain(a.id);
  });
});
