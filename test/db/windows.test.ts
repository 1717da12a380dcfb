import { EventEnvelope, eventKey, type RunWindow } from '@activity-core/core';
import {
  appendRunLogEntries,
  claimRunEvents,
  findRunEventOwners,
  InvalidTransitionError,
  insertRunOrGet,
  listRunEvents,
  readRunLog,
  transitionRun,
  updateWaitingWindow,
} from '@activity-core/db';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { someDefinition, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(12);

const envelope = (id: string) =>
  EventEnvelope.parse({ specversion: '1.0', id, source: 'urn:db-test', type: 'order.updated', data: { id } });

const openWindow = (openingEventKey: string): RunWindow => ({
  key: 'order-1',
  keyHash: uniqueId('kh'),
  mode: 'debounce',
  openingEventKey,
  openedAt: '2027-01-01T00:00:00.000Z',
  closedAt: null,
  reason: null,
  count: 0,
  stored: 0,
  duplicates: 0,
});

async function waitingRun(db: ReturnType<typeof ctx>['db'], definitionId: string) {
  const first = envelope(uniqueId('e'));
  const window = openWindow(eventKey(first));
  const { run } = await insertRunOrGet(db, {
    definitionId,
    definitionVersion: 1,
    triggerKind: 'window',
    triggerKey: `window:${window.keyHash}:${window.openingEventKey}`,
    workflowId: `run:${definitionId}:window:${window.keyHash}:${window.openingEventKey}`,
    status: 'waiting',
    event: first,
    window,
  });
  return { run, window, first };
}

describe('window runs', () => {
  it('wait, then close to pending, expired or cancelled, and never reopen', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const a = await waitingRun(db, def.id);
    expect(a.run).toMatchObject({ status: 'waiting', triggerKind: 'window', window: a.window, finishedAt: null });
    await updateWaitingWindow(db, a.run.id, { ...a.window, count: 3, stored: 3 });
    const closed = { ...a.window, count: 3, stored: 3, closedAt: '2027-01-01T00:00:05.000Z', reason: 'quiet' as const };
    const pending = await transitionRun(db, { id: a.run.id, to: 'pending', window: closed });
    expect(pending).toMatchObject({ status: 'pending', window: closed, finishedAt: null });
    // Too late: a window that closed is not updated by a straggling join.
    await updateWaitingWindow(db, a.run.id, { ...a.window, count: 99 });
    expect((await transitionRun(db, { id: a.run.id, to: 'running' })).window?.count).toBe(3);
    await expect(transitionRun(db, { id: a.run.id, to: 'waiting' })).rejects.toBeInstanceOf(InvalidTransitionError);

    const b = await waitingRun(db, def.id);
    expect(await transitionRun(db, { id: b.run.id, to: 'expired' })).toMatchObject({ status: 'expired' });
    expect((await transitionRun(db, { id: b.run.id, to: 'expired' })).finishedAt).not.toBeNull();
    const c = await waitingRun(db, def.id);
    expect(await transitionRun(db, { id: c.run.id, to: 'cancelled' })).toMatchObject({ status: 'cancelled' });
    await expect(transitionRun(db, { id: c.run.id, to: 'pending' })).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it('a window run needs its window, and only window runs have one', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const base = { definitionId: def.id, definitionVersion: 1 };
    await expect(
      insertRunOrGet(db, { ...base, triggerKind: 'window', triggerKey: uniqueId(), workflowId: uniqueId('wf') }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/runs_window_kind/) });
    await expect(
      insertRunOrGet(db, {
        ...base,
        triggerKind: 'event',
        triggerKey: uniqueId(),
        workflowId: uniqueId('wf'),
        window: openWindow('x'),
      }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/runs_window_kind/) });
  });

  it('an event joins at most one run of a definition: concurrent claims, one winner', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const runs = await Promise.all([waitingRun(db, def.id), waitingRun(db, def.id), waitingRun(db, def.id)]);
    const e = envelope(uniqueId('e'));
    const key = eventKey(e);
    const lost = await Promise.all(
      runs.map(({ run }) =>
        claimRunEvents(db, def.id, run.id, [{ eventKey: key, position: 0, joinedAt: new Date(), envelope: e }]),
      ),
    );
    expect(lost.filter((l) => l.length === 0)).toHaveLength(1);
    const owners = await findRunEventOwners(db, def.id, [key, 'unknown']);
    expect(owners.size).toBe(1);
    const winner = runs.find(({ run }) => run.id === owners.get(key)?.runId);
    expect(winner).toBeDefined();
    expect(await listRunEvents(db, winner?.run.id as string)).toMatchObject([
      { eventKey: key, position: 0, envelope: e },
    ]);
    // Another definition may claim the same event for a window of its own.
    const other = await someDefinition(db);
    const theirs = await waitingRun(db, other.id);
    expect(
      await claimRunEvents(db, other.id, theirs.run.id, [
        { eventKey: key, position: 0, joinedAt: new Date(), envelope: null },
      ]),
    ).toEqual([]);
    expect(await listRunEvents(db, theirs.run.id)).toMatchObject([{ eventKey: key, envelope: null }]);
  });

  it('keeps events in join order and pages after a position', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const { run } = await waitingRun(db, def.id);
    const events = Array.from({ length: 5 }, (_, i) => envelope(`e${i}-${uniqueId()}`));
    await claimRunEvents(
      db,
      def.id,
      run.id,
      events.map((e, position) => ({ eventKey: eventKey(e), position, joinedAt: new Date(), envelope: e })).reverse(),
    );
    expect((await listRunEvents(db, run.id)).map((e) => e.envelope?.id)).toEqual(events.map((e) => e.id));
    expect((await listRunEvents(db, run.id, { afterPosition: 2, limit: 1 })).map((e) => e.position)).toEqual([3]);
  });

  it('appends several log entries at once, once per idempotency key, after what is there', async () => {
    const { db } = ctx();
    const def = await someDefinition(db);
    const { run } = await waitingRun(db, def.id);
    const entries = ['a', 'b', 'c'].map((k) => ({
      kind: 'event_joined' as const,
      idempotencyKey: `joined:${k}`,
      data: { k },
    }));
    expect(await appendRunLogEntries(db, run.id, entries.slice(0, 2))).toBe(2);
    expect(await appendRunLogEntries(db, run.id, [...entries, entries[0] as (typeof entries)[0]])).toBe(1);
    const log = await readRunLog(db, run.id);
    expect(log.map((e) => [e.seq, e.data.k])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
  });
});
