// Streams on a real 3-node JetStream cluster: replicas raised in place, and publishes carried
// across the SIGKILL of the node that leads AC_EVENTS, each stored exactly once.
import { ensureIngestConsumer } from '@activity-core/ingest';
import { ensureStreams, publishRetrying, type Topology, topology } from '@activity-core/messaging';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { expect, test } from 'vitest';
import {
  connectToCluster,
  R3_STREAM_LIMITS,
  startTestNatsCluster,
  streamInfoOrNotYet,
} from '../support/nats-cluster.ts';
import { uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';

/** Waits until every replica of `stream` is current and it holds `messages` messages. */
async function settled(jsm: JetStreamManager, stream: string, messages: number): Promise<void> {
  await waitFor(
    async () => {
      const info = await streamInfoOrNotYet(jsm, stream);
      const replicas = info?.cluster?.replicas ?? [];
      return { messages: info?.state.messages, leader: info?.cluster?.leader, current: replicas.map((r) => r.current) };
    },
    {
      what: `${stream} with a leader, 2 current replicas and ${messages} messages`,
      timeoutMs: 90_000,
      until: (s) => s.messages === messages && !!s.leader && s.current.length === 2 && s.current.every(Boolean),
    },
  );
}

function publishAll(t: Topology, js: JetStreamClient, ids: readonly number[]) {
  return Promise.all(
    ids.map((i) =>
      publishRetrying(js, `${t.events.subjectPrefix}cluster.test`, JSON.stringify({ i }), { msgID: `e-${i}` }),
    ),
  );
}

test('R1 streams become R3 in place; publishes across a SIGKILL of the AC_EVENTS leader are stored once', async () => {
  await using cluster = await startTestNatsCluster(3);
  const lines: string[] = [];
  const { nc, jsm, js } = await connectToCluster(cluster, 'cluster-test', (line) => lines.push(line));
  try {
    const t = topology(uniqueId('C'));

    await ensureStreams(jsm, t);
    expect((await jsm.streams.info(t.events.stream)).config.num_replicas).toBe(1);
    await publishAll(t, js, range(0, 100));

    // Scaling up is an update: the messages stay.
    await ensureStreams(jsm, t, R3_STREAM_LIMITS);
    for (const s of [t.events.stream, t.tasks.stream, t.dlq.stream, t.advisories.stream]) {
      expect((await jsm.streams.info(s)).config.num_replicas).toBe(3);
    }
    await settled(jsm, t.events.stream, 100);
    await ensureIngestConsumer(jsm, t, {
      name: 'ac-ingest',
      ackWaitMs: 5_000,
      maxDeliver: 5,
      maxBackoffMs: 30_000,
      maxAckPending: 100,
      replicas: 3,
    });
    expect((await jsm.consumers.info(t.events.stream, 'ac-ingest')).config.num_replicas).toBe(3);

    const leader = await cluster.leaderOf(jsm, t.events.stream);
    await leader.kill();
    // 200 new events and 50 duplicates of stored ones, published while the leader is gone.
    const acks = await publishAll(t, js, [...range(100, 300), ...range(0, 50)]);
    expect(acks.filter((a) => a.duplicate)).toHaveLength(50);
    const next = await cluster.leaderOf(jsm, t.events.stream);
    expect(next.name).not.toBe(leader.name);

    await leader.start();
    await settled(jsm, t.events.stream, 300);
    const info = await jsm.streams.info(t.events.stream);
    console.log(
      `[cluster] killed ${leader.name} (leader of ${t.events.stream}), new leader ${next.name}; ` +
        `350 publishes (50 duplicates) -> ${info.state.messages} messages, replicas ${JSON.stringify(info.cluster?.replicas?.map((r) => [r.name, r.current]))}`,
    );
    expect(info.state.messages).toBe(300);
    expect(info.state.last_seq).toBe(300);

    // The node this client is connected to goes away: one line for the outage, one for the
    // way back, however many publishes wait in between.
    const connected = cluster.nodes.find((n) => n.name === nc.info?.server_name);
    if (!connected) throw new Error(`connected to an unknown server ${nc.info?.server_name}`);
    const before = lines.length; // the leader's kill may have been this client's server too
    await connected.kill();
    await publishAll(t, js, range(300, 340));
    await waitFor(() => lines.slice(before).includes('NATS connection restored'), {
      what: 'the reconnect line',
      until: Boolean,
    });
    expect(nc.info?.server_name).not.toBe(connected.name);
    expect(lines.slice(before)).toEqual(['NATS connection lost; reconnecting', 'NATS connection restored']);
    await connected.start();
    await settled(jsm, t.events.stream, 340);
  } finally {
    await nc.close();
  }
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
