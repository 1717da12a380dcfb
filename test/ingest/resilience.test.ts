import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTemporal } from '@activity-core/stack';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { stackInfo } from '../support/stack.ts';
import { outlasting, PROCESS_START_MS, sleep, WAIT_MS, waitFor, within } from '../support/wait.ts';
import {
  type ChildIngest,
  CONSUMER,
  createIngestHarness,
  DEFAULT_SOURCE,
  expectedRunId,
  type IngestHarness,
} from './harness.ts';

// Ingest as real child processes of services/ingest/src/main.ts, sharing one consumer.
const PAIR_ACKED_MS = 60_000;
const OUTAGE_ACKED_MS = 60_000;
/** How long nothing may happen while Temporal is away (a few of ingest's probe rounds). */
const OBSERVE_DOWN_MS = 3_000;
const TEMPORAL_START_MS = 60_000;
const TEMPORAL_STOP_MS = 15_000;
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

// Counters are bounds here, not exact counts. On a busy machine a start can outlive ingest's
// client deadline (AC_INGEST_START_TIMEOUT_MS, 3 s in these tests) although Temporal took it:
// it counts as a failure, and its redelivery as a duplicate. A message can also outlive the
// short ack wait in a buffer and be delivered and acked twice. What never bends is Temporal's
// count of executions per run id: exactly one.

test(
  'kill -9 after the start and before the ack: the message is redelivered and there is still one run',
  async () => {
    const def = await h.defineEvent({ types: ['crash.test'] });
    const crasher = h.spawnIngest({ AC_INGEST_CRASH_AFTER_START: 'true' });
    await crasher.ready;
    await h.js.publish(subject('crash.test'), JSON.stringify({ n: 1 }), { msgID: 'crash-1' });
    const exit = await within(crasher.exited, {
      what: `ingest (pid ${crasher.process.pid}) to kill itself after the start of crash-1`,
    });
    expect(exit.signal).toBe('SIGKILL');
    const runId = expectedRunId(def.id, DEFAULT_SOURCE, 'crash-1');
    expect(await h.workflowExists(runId)).toBe(true);
    expect((await h.jsm.consumers.info(h.topology.events.stream, CONSUMER)).num_ack_pending).toBe(1);

    const survivor = h.spawnIngest();
    await survivor.ready;
    await waitFor(() => survivor.metric('ac_ingest_acks_total'), {
      what: `the ack of crash-1, redelivered to ingest (pid ${survivor.process.pid})`,
      until: (acks) => acks >= 1,
    });
    expect(await survivor.metric('ac_ingest_redeliveries_total')).toBeGreaterThanOrEqual(1);
    expect(await survivor.metric('ac_ingest_duplicate_starts_total')).toBeGreaterThanOrEqual(1);
    // The run existed before the survivor saw the message: it never starts one.
    expect(await survivor.metric('ac_ingest_starts_total')).toBe(0);
    expect(await h.runCount(runId)).toBe(1);
    const info = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
    expect(info.num_ack_pending + info.num_pending).toBe(0);
    await survivor.stop();
  },
  outlasting(PROCESS_START_MS, WAIT_MS, PROCESS_START_MS, WAIT_MS, WAIT_MS),
);

test(
  'two ingest processes on one consumer share the work and never start a run twice',
  async () => {
    const def = await h.defineEvent({ types: ['pair.event'] });
    const children = [h.spawnIngest(), h.spawnIngest()];
    try {
      await twoProcesses(def.id, children);
    } finally {
      await Promise.all(children.map((c) => c.stop()));
    }
  },
  outlasting(PROCESS_START_MS, PAIR_ACKED_MS, WAIT_MS, WAIT_MS, WAIT_MS),
);

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
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
    {
      what: `all ${2 * events} pair.event messages delivered and acked on ${CONSUMER}`,
      until: (seen) => seen.pending === 0 && seen.ackPending === 0,
      timeoutMs: PAIR_ACKED_MS,
    },
  );
  await waitFor(() => sum(children, 'ac_ingest_acks_total'), {
    what: `ack counters of both ingest processes to reach ${2 * events}`,
    until: (acks) => acks >= 2 * events,
  });
  const starts = await sum(children, 'ac_ingest_starts_total');
  const duplicates = await sum(children, 'ac_ingest_duplicate_starts_total');
  expect(starts).toBeGreaterThan(0);
  expect(starts).toBeLessThanOrEqual(events);
  // Every copy of every event was resolved against Temporal before its ack.
  expect(starts + duplicates).toBeGreaterThanOrEqual(2 * events);
  for (const child of children) expect(await child.metric('ac_ingest_received_total')).toBeGreaterThan(0);
  const runIds = Array.from({ length: events }, (_, i) => expectedRunId(definitionId, 'urn:test:pair', `pair-${i}`));
  const counts = await waitFor(() => executionCounts(runIds), {
    what: `all ${events} pair runs in Temporal's visibility`,
    until: (seen) => seen.every((n) => n >= 1),
    intervalMs: 500,
  });
  expect(runIds.filter((_, i) => counts[i] !== 1)).toEqual([]);
}

/** Executions per run id, a few lookups at a time. */
async function executionCounts(runIds: string[]): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < runIds.length; i += 25) {
    counts.push(...(await Promise.all(runIds.slice(i, i + 25).map((id) => h.runCount(id)))));
  }
  return counts;
}

test(
  'Temporal down: messages wait (none dead-lettered) and all flow when it returns',
  async () => {
    const def = await h.defineEvent({ types: ['outage.event'] });
    const dir = mkdtempSync(join(tmpdir(), 'ac-ingest-temporal-'));
    // Temporal comes back on the same port, and nothing else may take it while it is down.
    const port = await freePort();
    const start = () =>
      startTemporal({ dir, port, namespace: stackInfo().temporalNamespace, startTimeoutMs: TEMPORAL_START_MS });
    let temporal = await start();
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
      await waitFor(() => child.metric('ac_ingest_paused'), {
        what: `ingest (pid ${child.process.pid}) to pause while Temporal is down`,
        until: (paused) => paused === 1,
      });
      expect(await child.metric('ac_ingest_start_failures_total', 'kind="unavailable"')).toBeGreaterThan(0);
      // Nothing may happen while Temporal is away: observe for a few probe rounds.
      await sleep(OBSERVE_DOWN_MS);
      const waiting = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
      expect(waiting.num_pending + waiting.num_ack_pending).toBe(events);
      expect(await h.deadLetters()).toEqual([]);
      expect(await child.metric('ac_ingest_acks_total')).toBe(0);

      temporal = await start();
      await waitFor(
        async () => {
          const info = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
          return { pending: info.num_pending, ackPending: info.num_ack_pending };
        },
        {
          what: `all ${events} outage.event messages acked after Temporal returned`,
          until: (seen) => seen.pending === 0 && seen.ackPending === 0,
          timeoutMs: OUTAGE_ACKED_MS,
        },
      );
      expect(await child.metric('ac_ingest_acks_total')).toBeGreaterThanOrEqual(events);
      // A start slower than its deadline pauses ingest too, until a probe succeeds.
      await waitFor(() => child.metric('ac_ingest_paused'), {
        what: `ingest (pid ${child.process.pid}) to resume`,
        until: (paused) => paused === 0,
      });
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
  },
  outlasting(
    TEMPORAL_START_MS,
    PROCESS_START_MS,
    TEMPORAL_STOP_MS,
    WAIT_MS,
    OBSERVE_DOWN_MS,
    TEMPORAL_START_MS,
    OUTAGE_ACKED_MS,
    WAIT_MS,
    WAIT_MS,
    TEMPORAL_STOP_MS,
  ),
);
