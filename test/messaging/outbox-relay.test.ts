// The outbox relay on real PostgreSQL and JetStream: it publishes rows in write order with the
// row id as Nats-Msg-Id, and deletes published rows after its retention.
import { enqueueOutbox } from '@activity-core/db';
import { startOutboxRelay } from '@activity-core/outbox-relay';
import { createLogger } from '@activity-core/runtime';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect, test } from 'vitest';
import { rawQuery, useMigratedDb } from '../db/fixture.ts';
import { storedMessages } from '../support/nats.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';

const ctx = useMigratedDb(4);
const quietLogger = createLogger({ level: 'error', base: { service: 'relay-test' } });

test('publishes in write order and prunes published rows after the retention, never a pending one', async () => {
  const { db, url } = ctx();
  const nc = await connect({ servers: stackInfo().natsUrl });
  const jsm = await jetstreamManager(nc);
  const stream = uniqueId('RELAY');
  const prefix = stream.toLowerCase();
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  const relay = startOutboxRelay({
    db,
    js: jetstream(nc),
    logger: quietLogger,
    pollIntervalMs: 50,
    retentionMs: 1,
    pruneIntervalMs: 50,
  });
  try {
    const ids = await enqueueOutbox(
      db,
      [1, 2, 3].map((n) => ({ subject: `${prefix}.tasks.created.t`, body: { n }, orderKey: 'task-1' })),
    );
    // Published, then gone from the outbox within a prune interval or two.
    await waitFor(async () => (await rawQuery(url, 'select count(*)::int as n from outbox')).rows[0].n === 0, {
      what: 'the published rows to be pruned',
    });
    const stored = await storedMessages(jsm, stream);
    expect(stored.map((m) => m.json<{ n: number }>().n)).toEqual([1, 2, 3]);
    expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(ids);
  } finally {
    await relay.stop();
    await jsm.streams.delete(stream);
    await nc.close();
  }
  // A row the relay cannot publish (no stream takes its subject) stays, pruning or not.
  const stuck = await enqueueOutbox(db, [{ subject: `${prefix}-nowhere.tasks.created.t`, body: {} }]);
  const nc2 = await connect({ servers: stackInfo().natsUrl });
  const relay2 = startOutboxRelay({
    db,
    js: jetstream(nc2),
    logger: quietLogger,
    pollIntervalMs: 50,
    publishTimeoutMs: 500,
    retentionMs: 1,
    pruneIntervalMs: 50,
  });
  try {
    await waitFor(
      async () =>
        (await rawQuery(url, 'select last_error from outbox where id = $1', stuck)).rows[0]?.last_error != null,
      { what: 'the unpublishable row to record its failure' },
    );
  } finally {
    await relay2.stop();
    await nc2.close();
  }
  expect((await rawQuery(url, 'select id, published_at from outbox')).rows).toEqual([
    { id: stuck[0], published_at: null },
  ]);
});
