import {
  CorruptRowError,
  claimOutboxBatch,
  enqueueOutbox,
  inTransaction,
  markOutboxPublished,
  type OutboxRecord,
  outboxStats,
  prepareOutboxClaim,
  pruneOutbox,
  recordOutboxFailure,
} from '@activity-core/db';
import { describe, expect, it } from 'vitest';
import { rawQuery, useMigratedDb } from './fixture.ts';

// One database per test: the outbox is a shared queue, so tests must not see each other's rows.
function fresh() {
  return useMigratedDb(16);
}

async function drain(claim: () => Promise<OutboxRecord[]>, publish: (batch: OutboxRecord[]) => Promise<void>) {
  for (;;) {
    const batch = await claim();
    if (batch.length === 0) return;
    await publish(batch);
  }
}

describe('outbox: relays', () => {
  const ctx = fresh();
  it('two relays claiming at once never get the same row', async () => {
    const { db } = ctx();
    const total = 400;
    await enqueueOutbox(
      db,
      Array.from({ length: total }, (_, i) => ({ subject: `tasks.created.d${i % 3}`, body: { i } })),
    );
    const claimedBy = new Map<string, string[]>();
    const relay = (name: string) =>
      drain(
        () => claimOutboxBatch(db, { limit: 7, leaseMs: 60_000 }),
        async (batch) => {
          for (const m of batch) claimedBy.set(m.id, [...(claimedBy.get(m.id) ?? []), name]);
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          await markOutboxPublished(
            db,
            batch.map((m) => m.id),
          );
        },
      );
    await Promise.all([relay('a'), relay('b'), relay('c'), relay('d')]);
    expect(claimedBy.size).toBe(total);
    expect([...claimedBy.values()].filter((names) => names.length > 1)).toEqual([]);
    const byRelay = new Set([...claimedBy.values()].map((n) => n[0]));
    expect(byRelay.size).toBeGreaterThan(1);
    expect(await outboxStats(db)).toEqual({ pending: 0, failing: 0, oldestPendingAt: null });
  });
});

describe('outbox: write order', () => {
  const ctx = fresh();
  it('rows come back in the order they were written, not in the order of their ids', async () => {
    const { db } = ctx();
    // Ids that sort against the write order (UUIDv7s of one millisecond sort by their random
    // bits, which is what made (created_at, id) an unreliable order within a transaction).
    const ids = Array.from(
      { length: 40 },
      (_, i) => `0190a000-0000-7000-8000-${String(999_999_999_999 - i).padStart(12, '0')}`,
    );
    await inTransaction(db, async (tx) => {
      await enqueueOutbox(
        tx,
        ids.slice(0, 20).map((id, i) => ({ id, subject: `tasks.created.${i}`, body: i })),
      );
      await enqueueOutbox(
        tx,
        ids.slice(20).map((id, i) => ({ id, subject: `tasks.created.${20 + i}`, body: 20 + i })),
      );
    });
    const claimed = await claimOutboxBatch(db, { limit: 100 });
    expect(claimed.map((m) => m.body)).toEqual(ids.map((_, i) => i));
    expect(claimed.map((m) => m.id)).toEqual(ids);
    expect([...claimed.map((m) => m.id)].sort()).not.toEqual(ids);
  });
});

describe('outbox: per-key order', () => {
  const ctx = fresh();
  it('a row waits while an earlier row of its key is unpublished, even one backing off after a failure', async () => {
    const { db, url } = ctx();
    const [created, completed, other] = (await enqueueOutbox(db, [
      { subject: 'tasks.created.x', body: 'created', orderKey: 'task-1' },
      { subject: 'tasks.completed.x', body: 'completed', orderKey: 'task-1' },
      { subject: 'tasks.created.x', body: 'other', orderKey: 'task-2' },
    ])) as [string, string, string];
    // The task's second event is not handed out beside its first, to this relay or another.
    expect((await claimOutboxBatch(db, { limit: 10 })).map((m) => m.id)).toEqual([created, other]);
    expect(await claimOutboxBatch(db, { limit: 10 })).toEqual([]);
    // The first fails and backs off; the second is due, but must not overtake it.
    await recordOutboxFailure(db, { id: created, error: 'nats: timeout', retryInMs: 60_000 });
    await markOutboxPublished(db, [other]);
    expect(await claimOutboxBatch(db, { limit: 10 })).toEqual([]);
    await rawQuery(url, `update outbox set next_attempt_at = now() - interval '1 second' where id = $1`, [created]);
    expect((await claimOutboxBatch(db, { limit: 10 })).map((m) => m.id)).toEqual([created]);
    await markOutboxPublished(db, [created]);
    const [next] = await claimOutboxBatch(db, { limit: 10 });
    expect(next).toMatchObject({ id: completed, orderKey: 'task-1', body: 'completed' });
  });
});

describe('outbox: leases and failures', () => {
  const ctx = fresh();
  it('a prepared claim is one statement for every round: each call claims what is due then, up to its limit', async () => {
    const { db } = ctx();
    const claim = prepareOutboxClaim(db, { limit: 2, leaseMs: 60_000 });
    const ids = await enqueueOutbox(
      db,
      ['a', 'b', 'c'].map((k) => ({ subject: `tasks.created.${k}`, body: { k }, orderKey: k })),
    );
    expect((await claim()).map((m) => m.id)).toEqual(ids.slice(0, 2));
    expect((await claim()).map((m) => [m.id, m.attempts])).toEqual([[ids[2], 1]]);
    expect(await claim()).toEqual([]);
    const [later] = await enqueueOutbox(db, [{ subject: 'tasks.created.d', body: {} }]);
    expect((await claim()).map((m) => m.id)).toEqual([later]);
    expect(await markOutboxPublished(db, [...ids, later as string])).toBe(4);
    expect(await markOutboxPublished(db, ids)).toBe(0);
  });

  it('a claimed row is leased; after the lease it is claimed again with attempts + 1', async () => {
    const { db, url } = ctx();
    const [id] = await enqueueOutbox(db, [{ subject: 'tasks.created.x', headers: { a: 'b' }, body: [1, 'two'] }]);
    const [first] = await claimOutboxBatch(db, { leaseMs: 60_000 });
    expect(first).toMatchObject({ id, attempts: 1, headers: { a: 'b' }, body: [1, 'two'], publishedAt: null });
    expect(await claimOutboxBatch(db)).toEqual([]);
    // The relay died: let the lease run out.
    await rawQuery(url, `update outbox set next_attempt_at = now() - interval '1 second' where id = $1`, [id]);
    const [second] = await claimOutboxBatch(db);
    expect(second).toMatchObject({ id, attempts: 2 });
    expect(await markOutboxPublished(db, [id as string])).toBe(1);
    expect(await markOutboxPublished(db, [id as string])).toBe(0);
    expect(await claimOutboxBatch(db)).toEqual([]);
  });

  it('a failure is recorded and the row is claimable again after the delay it was given', async () => {
    const { db, url } = ctx();
    const [id] = (await enqueueOutbox(db, [{ subject: 'tasks.created.y', body: { ok: false } }])) as [string];
    for (const expectedDelayMs of [1000, 2000, 4000, 8000, 10_000, 10_000]) {
      const [m] = await claimOutboxBatch(db);
      expect(m?.id).toBe(id);
      const before = Date.now();
      await recordOutboxFailure(db, { id, error: 'nats: timeout', retryInMs: expectedDelayMs });
      const row = (await rawQuery(url, 'select next_attempt_at, last_error, attempts from outbox where id = $1', [id]))
        .rows[0] as { next_attempt_at: Date; last_error: string };
      expect(row.last_error).toBe('nats: timeout');
      const delay = row.next_attempt_at.getTime() - before;
      expect(delay).toBeGreaterThan(expectedDelayMs - 1000);
      expect(delay).toBeLessThanOrEqual(expectedDelayMs + 1000);
      expect(await claimOutboxBatch(db)).toEqual([]);
      const stats = await outboxStats(db);
      expect(stats).toMatchObject({ pending: 1, failing: 1 });
      await rawQuery(url, `update outbox set next_attempt_at = now() - interval '1 second' where id = $1`, [id]);
    }
    await markOutboxPublished(db, [id]);
    expect((await outboxStats(db)).pending).toBe(0);
  });

  it('a corrupted row is parked with its error, named to the relay, and does not block the batch', async () => {
    const { db, url } = ctx();
    const [bad, good] = (await enqueueOutbox(db, [
      { subject: 'tasks.created.q', headers: { 'ce-type': 'x' }, body: {} },
      { subject: 'tasks.created.q', body: { fine: true } },
    ])) as [string, string];
    await rawQuery(url, `update outbox set headers = '{"ce-type": 5}' where id = $1`, [bad]);
    const corrupt: CorruptRowError[] = [];
    const batch = await claimOutboxBatch(db, { onCorrupt: (e) => corrupt.push(e) });
    expect(batch.map((m) => m.id)).toEqual([good]);
    expect(corrupt).toHaveLength(1);
    const [error] = corrupt as [CorruptRowError];
    expect(error).toBeInstanceOf(CorruptRowError);
    expect(error.data).toMatchObject({ table: 'outbox', rowId: bad, field: 'headers' });
    expect(error.data.issues[0]?.path).toEqual(['ce-type']);
    expect(error.message).toContain(bad);
    expect(error.message).toContain('headers.ce-type');
    const row = (await rawQuery(url, 'select last_error, published_at from outbox where id = $1', [bad])).rows[0];
    expect(row).toEqual({ last_error: error.message, published_at: null });
    expect(await outboxStats(db)).toMatchObject({ pending: 2, failing: 1 });
    await markOutboxPublished(db, [good]);
    await rawQuery(url, 'delete from outbox where id = $1', [bad]);
  });

  it('rows written in a rolled-back transaction are never claimed', async () => {
    const { db } = ctx();
    await expect(
      inTransaction(db, async (trx) => {
        await enqueueOutbox(trx, [{ subject: 'tasks.created.z', body: {} }]);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await claimOutboxBatch(db)).toEqual([]);
  });
});

describe('outbox: pruning', () => {
  const ctx = fresh();
  it('deletes published rows older than the retention, oldest first, and never an unpublished one', async () => {
    const { db, url } = ctx();
    const [old1, old2, recent, pending] = (await enqueueOutbox(
      db,
      ['old1', 'old2', 'recent', 'pending'].map((name) => ({ subject: `tasks.created.${name}`, body: name })),
    )) as [string, string, string, string];
    await markOutboxPublished(db, [old1, old2, recent]);
    await rawQuery(url, `update outbox set published_at = now() - interval '3 days' where id = $1`, [old1]);
    await rawQuery(url, `update outbox set published_at = now() - interval '2 days' where id = $1`, [old2]);
    // An unpublished row, however old, stays: it still has to go out.
    await rawQuery(url, `update outbox set created_at = now() - interval '9 days' where id = $1`, [pending]);
    const remaining = async () =>
      (await rawQuery(url, 'select id from outbox order by seq')).rows.map((r: { id: string }) => r.id);

    expect(await pruneOutbox(db, { olderThanMs: 86_400_000, limit: 1 })).toBe(1);
    expect(await remaining()).toEqual([old2, recent, pending]);
    expect(await pruneOutbox(db, { olderThanMs: 86_400_000 })).toBe(1);
    expect(await remaining()).toEqual([recent, pending]);
    expect(await pruneOutbox(db, { olderThanMs: 86_400_000 })).toBe(0);
    expect(await outboxStats(db)).toMatchObject({ pending: 1 });
    // A retention of 0 takes every published row, still none that is pending.
    expect(await pruneOutbox(db, { olderThanMs: 0 })).toBe(1);
    expect(await remaining()).toEqual([pending]);
  });
});
