// The outbox relay and its pruner on real PostgreSQL and JetStream: the relay publishes rows in
// write order with the row id as Nats-Msg-Id; the pruner deletes published rows after the
// retention, a backlog larger than a batch in one pass, side by side with another pruner, and
// never a pending or a skipped row.
import { enqueueOutbox, markOutboxPublished, skipOutboxRow } from '@activity-core/db';
import { startOutboxPruner, startOutboxRelay } from '@activity-core/outbox-relay';
import { createLogger } from '@activity-core/runtime';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { expect, test } from 'vitest';
import { rawQuery, useMigratedDb } from '../db/fixture.ts';
import { storedMessages } from '../support/nats.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';

const ctx = useMigratedDb(6);
const quietLogger = createLogger({ level: 'error', base: { service: 'relay-test' } });

test('the relay publishes in write order with Nats-Msg-Id = row id and marks the rows published', async () => {
  const { db, url } = ctx();
  const nc = await connect({ servers: stackInfo().natsUrl });
  const jsm = await jetstreamManager(nc);
  const stream = uniqueId('RELAY');
  const prefix = stream.toLowerCase();
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  const relay = startOutboxRelay({ db, js: jetstream(nc), logger: quietLogger, pollIntervalMs: 50 });
  try {
    const ids = await enqueueOutbox(
      db,
      [1, 2, 3].map((n) => ({ subject: `${prefix}.tasks.created.t`, body: { n }, orderKey: 'task-1' })),
    );
    const unpublished = async () =>
      (
        await rawQuery(
          url,
          'select count(*)::int as n from outbox where published_at is null or leased_until is not null',
        )
      ).rows[0].n;
    await waitFor(unpublished, { what: 'the rows to be published', until: (n) => n === 0 });
    const stored = await storedMessages(jsm, stream);
    expect(stored.map((m) => m.json<{ n: number }>().n)).toEqual([1, 2, 3]);
    expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(ids);
  } finally {
    await relay.stop();
    await jsm.streams.delete(stream);
    await nc.close();
  }
});

test('two pruners clear a backlog of 2,500 old rows in their first pass, and keep pending and skipped rows', async () => {
  const { db, url } = ctx();
  await rawQuery(url, 'delete from outbox');
  const old = await enqueueOutbox(
    db,
    Array.from({ length: 2_500 }, (_, i) => ({ subject: 'tasks.created.old', body: { i } })),
  );
  await markOutboxPublished(db, old);
  const [pending, skipped, recent] = (await enqueueOutbox(db, [
    { subject: 'tasks.created.pending', body: {} },
    { subject: 'tasks.created.skipped', body: {} },
    { subject: 'tasks.created.recent', body: {} },
  ])) as [string, string, string];
  await skipOutboxRow(db, { id: skipped, by: 'ops', reason: 'cannot be published' });
  await markOutboxPublished(db, [recent]);
  await rawQuery(url, `update outbox set published_at = now() - interval '2 days' where id <> $1 and id <> $2`, [
    pending,
    recent,
  ]);

  const registries = [new Registry(), new Registry()];
  // An interval far longer than the test: only the first pass of each counts.
  const pruners = registries.map((metrics) =>
    startOutboxPruner({
      db,
      logger: quietLogger,
      retentionMs: 86_400_000,
      intervalMs: 3_600_000,
      batchSize: 1000,
      metrics,
    }),
  );
  const left = async () => (await rawQuery(url, 'select id from outbox order by seq')).rows.map((r) => r.id);
  try {
    await waitFor(left, { what: 'the old published rows to go', until: (ids) => ids.length === 3 });
  } finally {
    await Promise.all(pruners.map((p) => p.stop()));
  }
  expect(await left()).toEqual([pending, skipped, recent]);
  let total = 0;
  for (const r of registries)
    total += (await r.getSingleMetric('ac_outbox_pruned_total')?.get())?.values[0]?.value ?? 0;
  expect(total).toBe(2_500);
});
