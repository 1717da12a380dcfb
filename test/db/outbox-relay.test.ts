// The outbox relay against real PostgreSQL and JetStream: a claimed batch goes out at once, a
// task's events stay in write order, and a row JetStream refuses holds back its own task only;
// rows their writer hands over are published without a claim, and a refused one gets a claim.
import { type Db, enqueueOutbox, type NewOutboxMessage } from '@activity-core/db';
import { ensureStreams, topology } from '@activity-core/messaging';
import { startOutboxRelay } from '@activity-core/outbox-relay';
import type { Logger } from '@activity-core/runtime';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedMessages } from '../support/nats.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';
import { useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(4);
const topo = topology(uniqueId('relay'));
let nc: Awaited<ReturnType<typeof connect>>;

beforeAll(async () => {
  nc = await connect({ servers: stackInfo().natsUrl });
  await ensureStreams(await jetstreamManager(nc), topo);
});
afterAll(async () => {
  await nc?.close();
});

const warnings: Array<Record<string, unknown> | undefined> = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn: (_message, fields) => warnings.push(fields),
  error() {},
  child: () => logger,
};

const row = (subject: string, task: string, n: number): NewOutboxMessage => ({
  subject,
  body: { task, n },
  orderKey: task,
});

async function unpublished(db: Db): Promise<Array<{ id: string; last_error: string | null }>> {
  const { rows } = await sql<{ id: string; last_error: string | null }>`
    select id, last_error from outbox where published_at is null order by seq`.execute(db);
  return rows;
}

describe('outbox relay', () => {
  it("publishes a batch at once, each task's events in write order; a refused row holds back its task only", async () => {
    const { db } = ctx();
    const good = `${topo.tasks.subjectPrefix}created.relay-test`;
    // No stream takes this subject: JetStream has no responder, so every publish of it fails.
    const refused = `${uniqueId('nowhere')}.created`;
    const messages = [
      row(good, 'a', 1),
      row(refused, 'b', 1),
      row(good, 'c', 1),
      row(good, 'a', 2),
      row(good, 'b', 2),
      row(good, 'c', 2),
      row(good, 'd', 1),
    ];
    const ids = await enqueueOutbox(db, messages);
    const relay = startOutboxRelay({
      db,
      js: jetstream(nc),
      logger,
      batchSize: 100,
      pollIntervalMs: 50,
      baseDelayMs: 200,
      maxDelayMs: 400,
    });
    try {
      // Everything but task b (its first row is refused, its second waits for it), well within
      // the 30 s lease that a stopped batch's rows would wait for.
      const left = await waitFor(async () => unpublished(db), {
        what: "the outbox with only task b's two rows unpublished",
        timeoutMs: 20_000,
        until: (rows) => rows.length === 2 && rows[0]?.last_error !== null,
      });
      expect(left.map((r) => r.id)).toEqual([ids[1], ids[4]]);
      expect(left[1]?.last_error).toBeNull();
      expect(warnings.some((w) => w?.id === ids[1])).toBe(true);
      const jsm = await jetstreamManager(nc);
      const stream = async () =>
        (await storedMessages(jsm, topo.tasks.stream)).map((m) => m.json<{ task: string; n: number }>());
      const seen = await stream();
      expect(seen).toHaveLength(5);
      for (const task of ['a', 'c']) expect(seen.filter((m) => m.task === task).map((m) => m.n)).toEqual([1, 2]);
      expect(seen.some((m) => m.task === 'b')).toBe(false);
      // An operator gives up on b's first event: its second goes.
      await db
        .updateTable('outbox')
        .set({ published_at: new Date() })
        .where('id', '=', ids[1] as string)
        .execute();
      relay.notify();
      await waitFor(async () => (await unpublished(db)).length, { what: 'an empty outbox', until: (n) => n === 0 });
      expect((await stream()).filter((m) => m.task === 'b')).toEqual([{ task: 'b', n: 2 }]);
    } finally {
      await relay.stop();
    }
  });

  it('publishes the rows its writer hands over without claiming them; a refused one goes through a claim', async () => {
    const { db } = ctx();
    const good = `${topo.tasks.subjectPrefix}created.relay-direct`;
    const refused = `${uniqueId('nowhere')}.created`;
    // Written before the relay starts, so its first round claims it; after that round the relay
    // claims again only when woken (its poll is far longer than the test).
    await enqueueOutbox(db, [row(good, 'probe', 1)]);
    const relay = startOutboxRelay({
      db,
      js: jetstream(nc),
      logger,
      pollIntervalMs: 3_600_000,
      baseDelayMs: 200,
      maxDelayMs: 400,
    });
    try {
      await waitFor(async () => (await unpublished(db)).length, {
        what: 'the probe row published',
        until: (n) => n === 0,
      });
      const [ok, bad] = (await enqueueOutbox(db, [row(good, 'e', 1), row(refused, 'f', 1)])) as [string, string];
      relay.publishCommitted([
        { id: ok, subject: good, headers: {}, body: { task: 'e', n: 1 } },
        { id: bad, subject: refused, headers: {}, body: { task: 'f', n: 1 } },
      ]);
      const state = async () => {
        const { rows } = await sql<{ id: string; attempts: number; published: boolean; last_error: string | null }>`
          select id, attempts, published_at is not null as published, last_error from outbox
          where id in (${ok}, ${bad}) order by seq`.execute(db);
        return rows;
      };
      const [e, f] = await waitFor(state, {
        what: "e published directly and f's failure recorded by a claim",
        until: ([e, f]) => e?.published === true && f?.last_error !== null && f?.last_error !== undefined,
      });
      // No claim took e (attempts counts claims); f was claimed once the direct publish failed.
      expect(e).toMatchObject({ published: true, attempts: 0, last_error: null });
      expect(f).toMatchObject({ published: false, attempts: 1 });
      const stored = (await storedMessages(await jetstreamManager(nc), topo.tasks.stream)).filter(
        (m) => m.json<{ task: string }>().task === 'e',
      );
      expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual([ok]);
    } finally {
      await relay.stop();
    }
  });
});
