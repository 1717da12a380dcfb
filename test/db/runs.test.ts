import { EventEnvelope, eventKey, runWorkflowIdForEvent } from '@activity-core/core';
import {
  appendRunLog,
  appendRunLogEntries,
  ConflictError,
  CorruptRowError,
  changeRunStatusWithLog,
  getRun,
  getRunByWorkflowId,
  InvalidTransitionError,
  insertRunOrGet,
  lastSuccessfulRun,
  listDefinitionRunLog,
  listRuns,
  NotFoundError,
  type RunRecord,
  readRunLog,
  transitionRun,
} from '@activity-core/db';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { rawQuery, someDefinition, someRun, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(24);

describe('runs', () => {
  it('insert-or-get by trigger key is idempotent, also under concurrency', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const nominal = new Date('2026-11-26T14:00:00.000Z');
    const input = {
      definitionId: def.id,
      definitionVersion: 1,
      triggerKind: 'cron' as const,
      triggerKey: `cron:${nominal.toISOString()}`,
      workflowId: `run:${def.id}:cron:${nominal.toISOString()}`,
      nominalTime: nominal,
      jitterMs: 1234,
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => insertRunOrGet(db, input)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    const run = results[0]?.run as RunRecord;
    expect(run).toMatchObject({
      status: 'pending',
      nominalTime: nominal,
      jitterMs: 1234,
      startedAt: null,
      finishedAt: null,
    });
    expect(await getRunByWorkflowId(db, input.workflowId)).toEqual(run);

    // Same workflow id under another trigger key: the unique workflow id backs up Temporal.
    await expect(insertRunOrGet(db, { ...input, triggerKey: 'other' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('constraints: known version, trigger kind, cron needs a nominal time, jitter >= 0', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const base = { definitionId: def.id, definitionVersion: 1, triggerKind: 'event' as const };
    const k = () => ({ triggerKey: uniqueId(), workflowId: uniqueId('wf') });
    await expect(insertRunOrGet(db, { ...base, ...k(), definitionVersion: 2 })).rejects.toMatchObject({
      code: '23503',
    });
    await expect(insertRunOrGet(db, { ...base, ...k(), triggerKind: 'cron' })).rejects.toMatchObject({ code: '23514' });
    await expect(insertRunOrGet(db, { ...base, ...k(), jitterMs: -1 })).rejects.toMatchObject({ code: '23514' });
    await expect(
      insertRunOrGet(db, { ...base, ...k(), triggerKind: 'bogus' as unknown as 'event' }),
    ).rejects.toMatchObject({ code: '23514' });
  });

  it('transitions are guarded: finished runs never go back', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const running = await transitionRun(db, { id: run.id, to: 'running' });
    expect(running.status).toBe('running');
    expect(running.startedAt).toBeInstanceOf(Date);
    expect((await transitionRun(db, { id: run.id, to: 'running' })).startedAt).toEqual(running.startedAt);
    await expect(transitionRun(db, { id: run.id, to: 'pending' })).rejects.toBeInstanceOf(InvalidTransitionError);
    const done = await transitionRun(db, { id: run.id, to: 'succeeded', summary: { tasks: 2 } });
    expect(done).toMatchObject({ status: 'succeeded', summary: { tasks: 2 } });
    expect(done.finishedAt).toBeInstanceOf(Date);
    // A retried "succeeded" is a no-op; anything else is refused with from/to.
    expect(await transitionRun(db, { id: run.id, to: 'succeeded' })).toEqual(done);
    const back = await transitionRun(db, { id: run.id, to: 'running' }).catch((e: unknown) => e);
    expect(back).toBeInstanceOf(InvalidTransitionError);
    expect((back as InvalidTransitionError).data).toEqual({
      entity: 'run',
      id: run.id,
      from: 'succeeded',
      to: 'running',
    });
    await expect(transitionRun(db, { id: run.id, to: 'failed' })).rejects.toBeInstanceOf(InvalidTransitionError);
    await expect(transitionRun(db, { id: uniqueId(), to: 'running' })).rejects.toBeInstanceOf(NotFoundError);

    const failing = await someRun(db, def);
    const failed = await transitionRun(db, { id: failing.id, to: 'failed', error: { message: 'boom' } });
    expect(failed).toMatchObject({ status: 'failed', error: { message: 'boom' } });

    // The table itself refuses a finished status without a finish time.
    await expect(rawQuery(ctx().url, `update runs set status = 'pending' where id = $1`, [run.id])).rejects.toThrow(
      /runs_finished_at/,
    );
  });

  it('misfires are recorded as finished skipped or coalesced runs', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const { run } = await insertRunOrGet(db, {
      definitionId: def.id,
      definitionVersion: 1,
      triggerKind: 'cron',
      triggerKey: 'cron:2026-11-26T10:00:00.000Z',
      workflowId: uniqueId('wf'),
      nominalTime: new Date('2026-11-26T10:00:00.000Z'),
      status: 'coalesced',
      summary: { coalescedInto: '2026-11-26T11:00:00.000Z' },
    });
    expect(run.status).toBe('coalesced');
    expect(run.finishedAt).toBeInstanceOf(Date);
    await expect(transitionRun(db, { id: run.id, to: 'running' })).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it('lastSuccessfulRun finds the latest success of a definition', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    expect(await lastSuccessfulRun(db, def.id)).toBeUndefined();
    const a = await someRun(db, def);
    await transitionRun(db, { id: a.id, to: 'succeeded' });
    const b = await someRun(db, def);
    await transitionRun(db, { id: b.id, to: 'succeeded' });
    const c = await someRun(db, def);
    await transitionRun(db, { id: c.id, to: 'failed' });
    expect((await lastSuccessfulRun(db, def.id))?.id).toBe(b.id);
  });

  it('list newest first with keyset pagination over inserts in between', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const before: string[] = [];
    for (let i = 0; i < 9; i++) before.push((await someRun(db, def)).id);
    const seen: RunRecord[] = [];
    let cursor: string | null = null;
    let inserted = 0;
    do {
      const page = await listRuns(db, { definitionId: def.id, limit: 4, cursor });
      seen.push(...page.items);
      cursor = page.nextCursor;
      await someRun(db, def); // newer than everything listed: must not appear in later pages
      inserted++;
    } while (cursor);
    expect(seen.map((r) => r.id).sort()).toEqual([...before].sort());
    for (let i = 1; i < seen.length; i++) {
      const [p, q] = [seen[i - 1] as RunRecord, seen[i] as RunRecord];
      expect(
        p.createdAt.getTime() > q.createdAt.getTime() ||
          (p.createdAt.getTime() === q.createdAt.getTime() && p.id > q.id),
      ).toBe(true);
    }
    const succeeded = await listRuns(db, { definitionId: def.id, status: ['succeeded'] });
    expect(succeeded.items).toEqual([]);
    expect((await listRuns(db, { definitionId: def.id, limit: 500 })).items).toHaveLength(9 + inserted);
  });

  it('keeps the triggering envelope; a corrupted one gives CorruptRowError naming row and field', async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const event = EventEnvelope.parse({
      specversion: '1.0',
      id: 'e-1',
      source: 'urn:shop',
      type: 'order.created',
      data: { id: 7 },
    });
    const key = eventKey(event);
    const { run } = await insertRunOrGet(db, {
      definitionId: def.id,
      definitionVersion: 1,
      triggerKind: 'event',
      triggerKey: key,
      workflowId: runWorkflowIdForEvent(def.id, key),
      event,
    });
    expect((await getRun(db, run.id)).event).toEqual(event);
    await rawQuery(url, `update runs set event = jsonb_set(event, '{specversion}', '"0.3"') where id = $1`, [run.id]);
    const error = await getRun(db, run.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptRowError);
    expect((error as CorruptRowError).data).toMatchObject({ table: 'runs', rowId: run.id, field: 'event' });
    expect((error as CorruptRowError).message).toContain('event.specversion');
  });

  it('ties on created_at page correctly (same millisecond)', async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await someRun(db, def)).id);
    await rawQuery(url, `update runs set created_at = '2026-01-01T00:00:00.000Z' where definition_id = $1`, [def.id]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await listRuns(db, { definitionId: def.id, limit: 4, cursor });
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].sort().reverse());
  });
});

describe('run log', () => {
  it('concurrent appends get gap-free sequences 1..n; reads come in order', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    const n = 25;
    const entries = await Promise.all(
      Array.from({ length: n }, (_, i) => appendRunLog(db, { runId: run.id, kind: 'note', data: { i } })),
    );
    expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const log = await readRunLog(db, run.id);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect((await readRunLog(db, run.id, { afterSeq: 20 })).map((e) => e.seq)).toEqual([21, 22, 23, 24, 25]);
  });

  it('an append with a seen idempotency key returns the first entry', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    await appendRunLog(db, { runId: run.id, kind: 'triggered', data: { at: 'x' } });
    const key = 'task_created:task:1';
    const results = await Promise.all(
      Array.from({ length: 5 }, () => appendRunLog(db, { runId: run.id, kind: 'task_created', idempotencyKey: key })),
    );
    expect(new Set(results.map((e) => e.seq))).toEqual(new Set([2]));
    expect(await readRunLog(db, run.id)).toHaveLength(2);
    await expect(appendRunLog(db, { runId: uniqueId(), kind: 'note' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('appends of several entries and status changes with entries, concurrent, get gap-free sequences in order', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    await transitionRun(db, { id: run.id, to: 'running' });
    const batch = (b: number) =>
      [0, 1, 2].map((i) => ({ kind: 'note' as const, idempotencyKey: `note:${b}:${i}`, data: { b, i } }));
    const results = await Promise.all([
      ...Array.from({ length: 8 }, (_, b) => appendRunLogEntries(db, run.id, batch(b))),
      changeRunStatusWithLog(db, { id: run.id, to: 'succeeded', summary: { tasksPlanned: 0 } }, batch(8)),
    ]);
    expect(results.slice(0, 8)).toEqual(Array.from({ length: 8 }, () => 3));
    const log = await readRunLog(db, run.id);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));
    // Each call's entries are consecutive, in the order given.
    for (let b = 0; b <= 8; b++) {
      const seqs = log.filter((e) => e.data.b === b).map((e) => [e.seq, e.data.i]);
      const first = seqs[0]?.[0] as number;
      expect(seqs).toEqual([0, 1, 2].map((i) => [first + i, i]));
    }
  });

  it('a status change with entries writes both once; a repeat writes nothing; a refused one rolls back', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const run = await someRun(db, def);
    await transitionRun(db, { id: run.id, to: 'running' });
    const entries = [
      { kind: 'task_created' as const, idempotencyKey: 'task_created:t1', data: { n: 1 } },
      { kind: 'task_created' as const, idempotencyKey: 'task_created:t1', data: { n: 2 } },
      { kind: 'run_finished' as const, idempotencyKey: 'run_finished', data: { status: 'succeeded' } },
    ];
    const first = await changeRunStatusWithLog(db, { id: run.id, to: 'succeeded', summary: { x: 1 } }, entries);
    expect(first.changed).toBe(true);
    expect(first.run).toMatchObject({ status: 'succeeded', summary: { x: 1 } });
    const again = await changeRunStatusWithLog(db, { id: run.id, to: 'succeeded', summary: { x: 2 } }, entries);
    expect(again.changed).toBe(false);
    expect(again.run.summary).toEqual({ x: 1 });
    expect((await readRunLog(db, run.id)).map((e) => [e.seq, e.kind, e.data])).toEqual([
      [1, 'task_created', { n: 1 }],
      [2, 'run_finished', { status: 'succeeded' }],
    ]);
    await expect(
      changeRunStatusWithLog(db, { id: run.id, to: 'failed' }, [{ kind: 'note', idempotencyKey: 'late' }]),
    ).rejects.toBeInstanceOf(InvalidTransitionError);
    expect(await readRunLog(db, run.id)).toHaveLength(2);
    expect((await getRun(db, run.id)).status).toBe('succeeded');
    await expect(changeRunStatusWithLog(db, { id: uniqueId(), to: 'running' }, entries)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('is append-only and listable per definition', async () => {
    const { db, url } = ctx();
    const def = await someDefinition(db);
    const r1 = await someRun(db, def);
    const r2 = await someRun(db, def);
    for (const run of [r1, r2, r1]) await appendRunLog(db, { runId: run.id, kind: 'rules_evaluated', data: {} });
    await appendRunLog(db, { runId: r2.id, kind: 'run_finished' });
    await expect(rawQuery(url, `update run_log_entries set kind = 'note' where run_id = $1`, [r1.id])).rejects.toThrow(
      /immutable/,
    );
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await listDefinitionRunLog(db, def.id, { limit: 3, cursor });
      all.push(...page.items.map((e) => `${e.runId}#${e.seq}`));
      cursor = page.nextCursor;
    } while (cursor);
    expect(all.sort()).toEqual([`${r1.id}#1`, `${r1.id}#2`, `${r2.id}#1`, `${r2.id}#2`].sort());
    const finished = await listDefinitionRunLog(db, def.id, { kinds: ['run_finished'] });
    expect(finished.items.map((e) => e.runId)).toEqual([r2.id]);
    expect((await getRun(db, r1.id)).id).toBe(r1.id);
  });
});
