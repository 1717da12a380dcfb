import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTemporal } from '@activity-core/stack';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stackInfo } from '../support/stack.ts';
import {
  type ChildIngest,
  CONSUMER,
  createIngestHarness,
  DEFAULT_SOURCE,
  expectedRunId,
  type IngestHarness,
  waitFor,
} from './harness.ts';

// Ingest as real child processes of services/ingest/src/main.ts, sharing one consumer.
let h: IngestHarness;

beforeAll(async () => {
  h = await createIngestHarness();
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

const subject = (type: string) => `${h.topology.events.subjectPrefix}${type}`;
const sum = async (children: ChildIngest[], name: string, labels?: string) =>
  (await Promise.all(children.map((c) => c.metric(name, labels)))).reduce((a, b) => a + b, 0);

test('kill -9 after the start and before the ack: the message is redelivered and there is still one run', async () => {
  const def = await h.defineEvent({ types: ['crash.test'] });
  const crasher = h.spawnIngest({ AC_INGEST_CRASH_AFTER_START: 'true' });
  await crasher.ready;
  await h.js.publish(subject('crash.test'), JSON.stringify({ n: 1 }), { msgID: 'crash-1' });
  const exit = await crasher.exited;
  expect(exit.signal).toBe('SIGKILL');
  const runId = expectedRunId(def.id, DEFAULT_SOURCE, 'crash-1');
  expect(await h.workflowExists(runId)).toBe(true);
  expect((await h.jsm.consumers.info(h.topology.events.stream, CONSUMER)).num_ack_pending).toBe(1);

  const survivor = h.spawnIngest();
  await waitFor(async () => (await survivor.metric('ac_ingest_acks_total')) === 1, 'the redelivered message acked');
  expect(await survivor.metric('ac_ingest_redeliveries_total')).toBe(1);
  expect(await survivor.metric('ac_ingest_duplicate_starts_total')).toBe(1);
  expect(await survivor.metric('ac_ingest_starts_total')).toBe(0);
  expect(await h.runCount(runId)).toBe(1);
  const info = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
  expect(info.num_ack_pending + info.num_pending).toBe(0);
  await survivor.stop();
});

test('two ingest processes on one consumer share the work and never start a run twice', async () => {
  const def = await h.defineEvent({ types: ['pair.event'] });
  const children = [h.spawnIngest(), h.spawnIngest()];
  try {
    await twoProcesses(def.id, children);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
});

async function twoProcesses(definitionId: string, children: ChildIngest[]): Promise<void> {
  await Promise.all(children.map((c) => c.ready));
  const events = 150;
  // Each event twice, under different Nats-Msg-Ids, so both copies reach ingest.
  for (let i = 0; i < events; i++) {
    const body = JSON.stringify({ specversion: '1.0', source: 'urn:test:pair', type: 'pair.event', id: `pair-${i}` });
    await Promise.all([
      h.js.publish(subject('pair.event'), body, { msgID: `a-${i}` }),
      h.js.publish(subject('pair.event'), body, { msgID: `b-${i}` }),
    ]);
  }
  // All acked: nothing left to deliver or to acknowledge. (Counting acks instead would be
  // wrong: with the short test ack wait, a message that waited in a client's buffer can be
  // redelivered and acked twice; that is allowed, a second start is not.)
  await waitFor(
    async () => {
      const info = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    'every message acked',
    60_000,
  );
  await waitFor(async () => (await sum(children, 'ac_ingest_acks_total')) >= 2 * events, 'the ack counters');
  expect(await sum(children, 'ac_ingest_starts_total')).toBe(events);
  expect(await sum(children, 'ac_ingest_duplicate_starts_total')).toBeGreaterThanOrEqual(events);
  for (const child of children) expect(await child.metric('ac_ingest_received_total')).toBeGreaterThan(0);
  for (const i of [0, 37, 74, 149]) {
    expect(await h.runCount(expectedRunId(definitionId, 'urn:test:pair', `pair-${i}`))).toBe(1);
  }
}

test('Temporal down: messages wait (none dead-lettered) and all flow when it returns', async () => {
  const def = await h.defineEvent({ types: ['outage.event'] });
  const dir = mkdtempSync(join(tmpdir(), 'ac-ingest-temporal-'));
  const port = await freePort();
  let temporal = await startTemporal({ dir, port, namespace: stackInfo().temporalNamespace });
  let cleanup = async () => {};
  try {
    const child = h.spawnIngest({ TEMPORAL_ADDRESS: temporal.address });
    cleanup = () => child.stop();
    await child.ready;
    await temporal.stop();

    const events = 20;
    for (let i = 0; i < events; i++) {
      await h.js.publish(subject('outage.event'), JSON.stringify({ i }), { msgID: `outage-${i}` });
    }
    await waitFor(async () => (await child.metric('ac_ingest_paused')) === 1, 'ingest to pause', 30_000);
    expect(await child.metric('ac_ingest_start_failures_total', 'kind="unavailable"')).toBeGreaterThan(0);
    // Nothing may happen while Temporal is away: observe for a few probe rounds.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const waiting = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
    expect(waiting.num_pending + waiting.num_ack_pending).toBe(events);
    expect(await h.deadLetters()).toEqual([]);
    expect(await child.metric('ac_ingest_acks_total')).toBe(0);

    temporal = await startTemporal({ dir, port, namespace: stackInfo().temporalNamespace });
    await waitFor(async () => (await child.metric('ac_ingest_acks_total')) === events, 'every message acked', 60_000);
    expect(await child.metric('ac_ingest_paused')).toBe(0);
    expect(await h.deadLetters()).toEqual([]);
    const connection = await Connection.connect({ address: temporal.address });
    try {
      const client = new Client({ connection, namespace: temporal.namespace });
      for (let i = 0; i < events; i++) {
        expect(await h.workflowExists(expectedRunId(def.id, DEFAULT_SOURCE, `outage-${i}`), client)).toBe(true);
      }
    } finally {
      await connection.close();
    }
    await child.stop();
  } finally {
    await cleanup();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
