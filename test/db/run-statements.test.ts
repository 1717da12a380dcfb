// The run's one-statement writes (issue 14): a run's status change with its log entries, and a
// run's task batch with its outbox rows, entries and finish, each take the run's lock in the same
// statement that appends. An append that committed while that statement waited for the lock is
// invisible to it; these tests make exactly that happen (a second connection holds the run's row
// lock with an entry appended, and commits once the statement waits on it) and check that the
// run log still comes out gap-free, in commit order, each key once. Also: a refused transition
// writes nothing, a repeated one appends only what is new, and the head-and-insert of a run start.
import { runWorkflowIdForEvent } from '@activity-core/core';
import {
  changeRunStatusWithLog,
  getRun,
  getTask,
  InvalidTransitionError,
  insertRunOfDefinition,
  insertRunTasks,
  type JsonValue,
  type NewTask,
  NotFoundError,
  type RunRecord,
  readRunLog,
  type TaskRecord,
  toTaskInstance,
  transitionRun,
} from '@activity-core/db';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { rawQuery, someDefinition, someRun, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(6);

/**
 * A second connection that locks the run as an appender does and appends one `note` entry
 * (key `other`), then waits: `commitOnceBlocked` commits as soon as another backend waits for
 * a lock in this database (the statement under test, on the run's row).
 */
async function concurrentAppender(url: string, run: RunRecord) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await client.query('select id from runs where id = $1 for no key update', [run.id]);
  await client.query(
    `insert into run_log_entries (run_id, seq, definition_id, kind, idempotency_key, data)
     values ($1, (select coalesce(max(seq), 0) + 1 from run_log_entries where run_id = $1), $2, 'note', 'other', '{}')`,
    [run.id, run.definitionId],
  );
  return {
    async commitOnceBlocked(): Promise<void> {
      for (;;) {
        const { rows } = await client.query(
          `select count(*)::int as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        );
        if (rows[0].n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await client.query('commit');
      await client.end();
    },
  };
}

const logOf = async (runId: string) => (await readRunLog(ctx().db, runId)).map((e) => `${e.seq}:${e.idempotencyKey}`);

function taskOf(run: RunRecord, def: { id: string; key: string; version: number }): NewTask {
  return {
    id: crypto.randomUUID(),
    runId: run.id,
    definitionId: def.id,
    definitionKey: def.key,
    definitionVersion: def.version,
    templateKey: 'review',
    index: 0,
    idempotencyKey: `task:${run.workflowId}:review:0`,
    title: 'Review',
  };
}

describe('a run status change with its log entries', () => {
  it('after an append it raced with, appends after it, each key once', async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const other = await concurrentAppender(url, run);
    const [change] = await Promise.all([
      changeRunStatusWithLog(db, { id: run.id, to: 'running' }, [
        { kind: 'triggered', idempotencyKey: 'triggered' },
        { kind: 'rules_evaluated', idempotencyKey: 'rules_evaluated' },
      ]),
      other.commitOnceBlocked(),
    ]);
    expect(change.changed).toBe(true);
    expect(change.run.status).toBe('running');
    expect(await logOf(run.id)).toEqual(['1:other', '2:triggered', '3:rules_evaluated']);
  });

  it('refused: throws and appends nothing; repeated: appends only the new keys', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    await changeRunStatusWithLog(db, { id: run.id, to: 'running' }, [
      { kind: 'triggered', idempotencyKey: 'triggered' },
    ]);
    const again = await changeRunStatusWithLog(db, { id: run.id, to: 'running' }, [
      { kind: 'triggered', idempotencyKey: 'triggered' },
      { kind: 'rules_evaluated', idempotencyKey: 'rules_evaluated' },
    ]);
    expect(again.changed).toBe(false);
    await transitionRun(db, { id: run.id, to: 'failed', error: { type: 'X' } });
    await expect(
      changeRunStatusWithLog(db, { id: run.id, to: 'succeeded' }, [
        { kind: 'run_finished', idempotencyKey: 'run_finished' },
      ]),
    ).rejects.toBeInstanceOf(InvalidTransitionError);
    expect(await logOf(run.id)).toEqual(['1:triggered', '2:rules_evaluated']);
    expect((await getRun(db, run.id)).status).toBe('failed');
  });
});

describe("a run's task batch", () => {
  const batch = (run: RunRecord, task: NewTask, finish: boolean) => ({
    runId: run.id,
    tasks: [task],
    outbox: (record: { id: string }) => ({
      subject: 'bench.tasks.created.x',
      body: { id: record.id },
      orderKey: record.id,
    }),
    entries: (rows: ReadonlyArray<{ task: { id: string } }>) => [
      ...rows.map(({ task: t }) => ({ kind: 'task_created' as const, idempotencyKey: `task_created:${t.id}` })),
      ...(finish ? [{ kind: 'run_finished' as const, idempotencyKey: 'run_finished' }] : []),
    ],
    ...(finish ? { finish: { id: run.id, to: 'succeeded' as const, summary: { tasksPlanned: 1 } } } : {}),
  });
  const outboxOf = async (url: string, taskId: string) =>
    (await rawQuery(url, 'select id from outbox where order_key = $1', [taskId])).rows.length;

  it.each([true, false])('after an append it raced with (finishing: %s), commits everything once', async (finish) => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    await transitionRun(db, { id: run.id, to: 'running' });
    const task = taskOf(run, def);
    const other = await concurrentAppender(url, run);
    const [written] = await Promise.all([insertRunTasks(db, batch(run, task, finish)), other.commitOnceBlocked()]);
    expect(written.rows.map((r) => r.created)).toEqual([true]);
    expect(written.change?.changed).toBe(finish ? true : undefined);
    const expected = ['1:other', `2:task_created:${task.id}`, ...(finish ? ['3:run_finished'] : [])];
    expect(await logOf(run.id)).toEqual(expected);
    expect(await outboxOf(url, task.id as string)).toBe(1);
    expect((await getRun(db, run.id)).status).toBe(finish ? 'succeeded' : 'running');
  });

  it("stores each task event as built from the stored row (its times are the row's)", async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const tasks = [0, 1].map((index) => ({
      ...taskOf(run, def),
      index,
      idempotencyKey: `task:${run.workflowId}:review:${index}`,
      labels: ['a', 'b'],
      payload: { n: index, nested: { list: [1, 'x', null] } },
      dueAt: new Date('2026-12-24T12:00:00.123Z'),
    }));
    const event = (record: TaskRecord) => ({
      subject: 'x.tasks.created.review',
      body: { time: record.createdAt.toISOString(), data: toTaskInstance(record) } as unknown as JsonValue,
      orderKey: record.id,
    });
    const written = await insertRunTasks(db, {
      runId: run.id,
      tasks,
      outbox: event,
      entries: (rows) => rows.map(({ task: t }) => ({ kind: 'task_created' as const, idempotencyKey: t.id })),
      finish: { id: run.id, to: 'succeeded', summary: { tasksPlanned: 2 } },
    });
    for (const [i, task] of tasks.entries()) {
      const stored = await getTask(db, task.id as string);
      expect(written.rows[i]?.task).toEqual(stored);
      const { rows } = await rawQuery(url, 'select id, subject, body from outbox where order_key = $1', [task.id]);
      expect(rows.map((r) => r.body)).toEqual([event(stored).body]);
      // What the call returns for the relay to publish without a claim is what was stored.
      expect(written.outbox.filter((m) => m.orderKey === task.id)).toEqual(
        rows.map((r) => ({ id: r.id, subject: r.subject, headers: {}, body: r.body, orderKey: task.id })),
      );
    }
  });

  it('repeated: writes nothing again; refused finish: rolls the batch back', async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const task = taskOf(run, def);
    await insertRunTasks(db, batch(run, task, true));
    const again = await insertRunTasks(db, batch(run, task, true));
    expect(again.rows.map((r) => r.created)).toEqual([false]);
    expect(again.change?.changed).toBe(false);
    expect(await logOf(run.id)).toEqual([`1:task_created:${task.id}`, '2:run_finished']);
    expect(await outboxOf(url, task.id as string)).toBe(1);

    const failed = await someRun(db, def);
    await transitionRun(db, { id: failed.id, to: 'failed', error: { type: 'X' } });
    const refused = taskOf(failed, def);
    await expect(insertRunTasks(db, batch(failed, refused, true))).rejects.toBeInstanceOf(InvalidTransitionError);
    expect(await logOf(failed.id)).toEqual([]);
    expect(await outboxOf(url, refused.id as string)).toBe(0);
    expect((await rawQuery(url, 'select 1 from task_instances where id = $1', [refused.id])).rows).toEqual([]);
  });

  it('a batch of a run that does not exist fails and writes nothing', async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const task = taskOf(run, def);
    const missing = { ...run, id: crypto.randomUUID() };
    await expect(insertRunTasks(db, batch(missing, { ...task, runId: run.id }, false))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await outboxOf(url, task.id as string)).toBe(0);
  });
});

describe('a run start: the definition head and the run row in one statement', () => {
  it('inserts once, finds it again, refuses a missing definition or version', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const key = uniqueId('evt-');
    const input = {
      definitionId: def.id,
      triggerKind: 'event' as const,
      triggerKey: key,
      workflowId: runWorkflowIdForEvent(def.id, key),
    };
    const first = await insertRunOfDefinition(db, input);
    expect(first.created).toBe(true);
    expect(first.definition).toEqual({ id: def.id, key: def.key, version: def.version });
    expect(first.run).toMatchObject({ definitionVersion: def.version, status: 'pending', finishedAt: null });
    const again = await insertRunOfDefinition(db, input);
    expect(again).toMatchObject({ created: false, run: { id: first.run.id } });
    await expect(insertRunOfDefinition(db, { ...input, definitionId: crypto.randomUUID() })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    const other = uniqueId('evt-');
    await expect(
      insertRunOfDefinition(db, {
        ...input,
        triggerKey: other,
        workflowId: runWorkflowIdForEvent(def.id, other),
        definitionVersion: 99,
      }),
    ).rejects.toMatchObject({ code: '23503' });
  });
});
