// "Definitions take effect when saved": an event published after a definition write returned
// is matched against that write, through events.publish and raw NATS, on whichever ingest
// replica receives it, also while the LISTEN connection is down. Real API, real ingest
// services (in-process), a stand-in RunActivityWorkflow on real Temporal (stand-in.workflow.ts),
// real NATS and PostgreSQL.
import type { ActivityCoreClient } from '@activity-core/client';
import { type EventEnvelope, eventKey } from '@activity-core/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApiOnHarness } from '../api/support.ts';
import { rawQuery } from '../db/fixture.ts';
import { uniqueId } from '../support/stack.ts';
import { outlasting, WAIT_MS, waitFor, within } from '../support/wait.ts';
import {
  CONSUMER,
  createIngestHarness,
  expectedRunId,
  type IngestHarness,
  type InProcessIngest,
  metricValue,
} from './harness.ts';

const CREATES = 1000;
const UPDATES = 200;
/** Pairs in flight at once; within a pair the publish follows the write's answer at once. */
const CONCURRENCY = 16;
const TYPE = 'ryw.order.created';
/** How long the pairs of one scenario may take (thousands of API calls on a loaded machine). */
const PAIRS_MS = 300_000;
/** How long ingest may take to process and ack what the pairs published, after the last one. */
const DRAIN_MS = 180_000;
/** How long Temporal's visibility may lag behind the starts. */
const VISIBILITY_MS = 60_000;
/** A scenario's test timeout: its waits one after another (the version reads are short). */
const SCENARIO_MS = outlasting(PAIRS_MS, DRAIN_MS, WAIT_MS, VISIBILITY_MS);
const SOURCE = 'urn:test:ryw';

let h: IngestHarness;
let api: Awaited<ReturnType<typeof startApiOnHarness>>;
let ac: ActivityCoreClient;

beforeAll(async () => {
  h = await createIngestHarness();
  await h.startWorker();
  // Thousands of writes and publishes in a few seconds: far above the API's default rate limit.
  api = await startApiOnHarness(h, { AC_API_RATE_LIMIT_RPS: '100000', AC_API_RATE_LIMIT_BURST: '100000' });
  ac = api.client;
});
afterAll(async () => {
  await api?.api.stop();
  await h?.[Symbol.asyncDispose]();
});

/**
 * One definition per tenant on one shared type: each event matches exactly its tenant's.
 * Version 1 accepts phase 1, an update (phase 2) phases 1 and 2: so an event in phase 2 matches
 * only the updated version, and a create's event that is redelivered (or first processed) after
 * the update still matches, as the guarantee says it must, instead of being acked unmatched.
 */
function specFor(key: string, tenant: string, phase: 1 | 2) {
  const phases = phase === 1 ? 'event.data.phase == 1' : 'event.data.phase in [1, 2]';
  return {
    key,
    name: `read-your-writes ${key}`,
    trigger: {
      kind: 'event' as const,
      event: { types: [TYPE], filter: `event.data.tenant == '${tenant}' && ${phases}` },
    },
    taskTemplates: [{ key: 'task', title: 'a task' }],
  };
}

/** Half through the API's events.publish, half raw NATS (a structured CloudEvent). */
async function publish(i: number, event: Omit<EventEnvelope, 'causationdepth'>): Promise<void> {
  if (i % 2 === 0) {
    await ac.events.publish.mutate(event);
  } else {
    await h.js.publish(`${h.topology.events.subjectPrefix}${event.type}`, JSON.stringify(event), { msgID: event.id });
  }
}

async function pool(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

interface Expected {
  readonly runId: string;
  readonly definitionId: string;
  readonly eventId: string;
  readonly version: number;
}

interface Scenario {
  readonly replicas: InProcessIngest[];
  /** Called once half of the creates are done. */
  readonly midway?: () => Promise<void> | void;
}

/**
 * CREATES create→publish pairs, then UPDATES update→publish pairs on some of them. An update
 * moves its definition to phase 2, and its event is in phase 2: an index that missed the
 * create or the update acks the event as unmatched (or starts version 1).
 */
async function createsAndUpdates({ replicas, midway }: Scenario): Promise<void> {
  const tag = uniqueId('').slice(0, 6);
  const expected: Expected[] = [];
  const created: Array<{ id: string; key: string; tenant: string }> = [];
  const createPairs = pool(CREATES, async (i) => {
    if (i === CREATES / 2) await midway?.();
    const tenant = `${tag}-t${i}`;
    const key = `ryw-${tag}-${i}`;
    const definition = await ac.definitions.create.mutate({ spec: specFor(key, tenant, 1) });
    const id = `${tag}-create-${i}`;
    await publish(i, { specversion: '1.0', type: TYPE, source: SOURCE, id, data: { tenant, phase: 1 } });
    created[i] = { id: definition.id, key, tenant };
    expected.push({
      runId: expectedRunId(definition.id, SOURCE, id),
      definitionId: definition.id,
      eventId: id,
      version: 1,
    });
  });
  const pairsDeadline = Date.now() + PAIRS_MS;
  await within(createPairs, { what: `${CREATES} create→publish pairs`, timeoutMs: PAIRS_MS });
  const updatePairs = pool(UPDATES, async (i) => {
    const target = created[i * Math.floor(CREATES / UPDATES)] as (typeof created)[number];
    const updated = await ac.definitions.update.mutate({
      id: target.id,
      expectedVersion: 1,
      spec: specFor(target.key, target.tenant, 2),
    });
    const id = `${tag}-update-${i}`;
    await publish(i, { specversion: '1.0', type: TYPE, source: SOURCE, id, data: { tenant: target.tenant, phase: 2 } });
    expected.push({
      runId: expectedRunId(target.id, SOURCE, id),
      definitionId: target.id,
      eventId: id,
      version: updated.version,
    });
  });
  await within(updatePairs, {
    what: `${UPDATES} update→publish pairs`,
    timeoutMs: Math.max(1, pairsDeadline - Date.now()),
  });
  expect(expected.length).toBe(CREATES + UPDATES);

  await drained();
  // Nothing was acked as unmatched, on any replica (redeliveries included: every event matches
  // its definition in every version it may be processed against).
  for (const replica of replicas) {
    const redeliveries = await counter(replica, 'ac_ingest_redeliveries_total');
    expect(await counter(replica, 'ac_ingest_unmatched_total'), `unmatched (${redeliveries} redeliveries)`).toBe(0);
  }
  // Every update's event started its run on the version the update returned (phase 2, which
  // only the new version accepts). A create's event ran version 1, or version 2 if it was first
  // processed after its update: both are right, so only its run is checked, below.
  const updates = expected.slice(CREATES);
  const versions = await inChunks(updates, (e) => startedVersion(e.runId));
  expect(versions).toEqual(updates.map((e) => e.version));
  // And only those: each event started exactly one run, its own definition's.
  await expectOneRunPerEvent(expected, new Set(created.map((c) => c.id)));
}

describe('definitions take effect when saved', () => {
  test(
    `${CREATES} create→publish and ${UPDATES} update→publish pairs, one ingest: every event starts its run on the right version`,
    async () => {
      const ingest = await h.startInProcess();
      try {
        await createsAndUpdates({ replicas: [ingest] });
      } finally {
        await ingest.stop();
      }
    },
    SCENARIO_MS,
  );

  // Two replicas, and from midway their LISTEN connections terminated every 100 ms: the pairs
  // of both halves must not depend on NOTIFY or on which replica receives the event.
  test(
    'the same with two ingest replicas on one consumer, their LISTEN connections terminated again and again from midway',
    async () => {
      const replicas = [await h.startInProcess(), await h.startInProcess()];
      let killing = true;
      let terminated = 0;
      let loop: Promise<void> = Promise.resolve();
      const midway = () => {
        loop = (async () => {
          while (killing) {
            terminated += await terminateListeners();
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
      };
      try {
        await createsAndUpdates({ replicas, midway });
        for (const replica of replicas) expect(await counter(replica, 'ac_ingest_received_total')).toBeGreaterThan(0);
      } finally {
        killing = false;
        await loop;
        await Promise.all(replicas.map((r) => r.stop()));
      }
      expect(terminated).toBeGreaterThan(0);
    },
    SCENARIO_MS,
  );

  test(
    'disable→publish and archive→publish start no run',
    async () => {
      const ingest = await h.startInProcess();
      try {
        const tag = uniqueId('').slice(0, 6);
        const n = 100;
        const definitions: Array<{ id: string }> = [];
        for (let i = 0; i < n; i++) {
          definitions.push(await ac.definitions.create.mutate({ spec: specFor(`ryw-${tag}-${i}`, `${tag}-t${i}`, 1) }));
        }
        // They are live: an event for the first starts a run.
        await publish(1, {
          specversion: '1.0',
          type: TYPE,
          source: SOURCE,
          id: `${tag}-live`,
          data: { tenant: `${tag}-t0`, phase: 1 },
        });
        const liveRun = expectedRunId(definitions[0]?.id as string, SOURCE, `${tag}-live`);
        await waitFor(() => h.workflowExists(liveRun), { what: `the run of ${liveRun}` });
        const before = await counter(ingest, 'ac_ingest_unmatched_total');
        const silenced: string[] = [];
        await pool(n, async (i) => {
          const definition = definitions[i] as (typeof definitions)[number];
          if (i < n / 2) await ac.definitions.setEnabled.mutate({ id: definition.id, enabled: false });
          else await ac.definitions.archive.mutate({ id: definition.id });
          const id = `${tag}-off-${i}`;
          await publish(i, {
            specversion: '1.0',
            type: TYPE,
            source: SOURCE,
            id,
            data: { tenant: `${tag}-t${i}`, phase: 1 },
          });
          silenced.push(expectedRunId(definition.id, SOURCE, id));
        });
        await drained();
        // Processed (a redelivery may count twice), and none started a run.
        expect((await counter(ingest, 'ac_ingest_unmatched_total')) - before).toBeGreaterThanOrEqual(n);
        for (const runId of silenced) expect(await h.workflowExists(runId)).toBe(false);
      } finally {
        await ingest.stop();
      }
    },
    outlasting(WAIT_MS, PAIRS_MS, DRAIN_MS),
  );

  test(
    'while the definition feed cannot be read, an event is handed back, not acked unmatched, and runs once it can',
    async () => {
      const ingest = await h.startInProcess();
      const tag = uniqueId('').slice(0, 6);
      const definition = await ac.definitions.create.mutate({ spec: specFor(`ryw-${tag}`, `${tag}-t`, 1) });
      const unmatched = await counter(ingest, 'ac_ingest_unmatched_total');
      // The feed's query reads definition_revision: without it, every catch-up fails.
      await rawQuery(h.database.url, 'alter table definition_revision rename to definition_revision_away');
      let renamed = true;
      try {
        await publish(1, {
          specversion: '1.0',
          type: TYPE,
          source: SOURCE,
          id: `${tag}-blind`,
          data: { tenant: `${tag}-t`, phase: 1 },
        });
        await waitFor(() => counter(ingest, 'ac_ingest_index_catch_ups_total', 'outcome="error"'), {
          what: 'a failed catch-up of the definition index',
          until: (n) => n > 0,
        });
        await waitFor(() => counter(ingest, 'ac_ingest_naks_total', 'cause="unavailable"'), {
          what: 'the event handed back as unavailable',
          until: (n) => n > 0,
        });
        expect(await counter(ingest, 'ac_ingest_unmatched_total')).toBe(unmatched);
        await rawQuery(h.database.url, 'alter table definition_revision_away rename to definition_revision');
        renamed = false;
        const runId = expectedRunId(definition.id, SOURCE, `${tag}-blind`);
        await waitFor(() => h.workflowExists(runId), {
          what: `the run of ${runId} once the feed is readable`,
          timeoutMs: 60_000,
        });
        expect(await counter(ingest, 'ac_ingest_unmatched_total')).toBe(unmatched);
      } finally {
        if (renamed)
          await rawQuery(h.database.url, 'alter table definition_revision_away rename to definition_revision');
        await ingest.stop();
      }
    },
    outlasting(WAIT_MS, WAIT_MS, 60_000),
  );

  test(
    'an event published before a definition existed, processed after it was saved, starts it',
    async () => {
      // No ingest runs yet: the event waits in the stream while the definition is created.
      const tag = uniqueId('').slice(0, 6);
      await publish(1, {
        specversion: '1.0',
        type: TYPE,
        source: SOURCE,
        id: `${tag}-early`,
        data: { tenant: `${tag}-t`, phase: 1 },
      });
      const definition = await ac.definitions.create.mutate({ spec: specFor(`ryw-${tag}`, `${tag}-t`, 1) });
      const ingest = await h.startInProcess();
      try {
        const runId = expectedRunId(definition.id, SOURCE, `${tag}-early`);
        await waitFor(() => h.workflowExists(runId), { what: `the run of ${runId}` });
        expect(await startedVersion(runId)).toBe(1);
      } finally {
        await ingest.stop();
      }
    },
    outlasting(WAIT_MS),
  );
});

/** Waits until the consumer has nothing left to deliver and nothing unacked. */
async function drained(): Promise<void> {
  await waitFor(
    async () => {
      const info = await h.jsm.consumers.info(h.topology.events.stream, CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { what: 'every event processed and acked', timeoutMs: DRAIN_MS, intervalMs: 500 },
  );
}

async function counter(ingest: InProcessIngest, name: string, labels?: string): Promise<number> {
  return metricValue(await ingest.registry.metrics(), name, labels);
}

/** The definition version a run was started with (its workflow input), or null when there is no run. */
async function startedVersion(runId: string): Promise<number | null> {
  if (!(await h.workflowExists(runId))) return null;
  const history = await h.client.workflow.getHandle(runId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  return (JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8')) as { version: number }).version;
}

async function inChunks<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, size = 16): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/**
 * Lists the runs of this scenario's definitions (Temporal's visibility lags, so until it shows
 * at least as many as expected) and checks that each event has exactly one, the expected one.
 */
async function expectOneRunPerEvent(expected: readonly Expected[], definitionIds: ReadonlySet<string>): Promise<void> {
  const byEvent = new Map<string, string[]>();
  const list = async () => {
    byEvent.clear();
    // Visibility may list one execution twice while it changes state between pages: an
    // execution is its run id (REJECT_DUPLICATE: a workflow id never gets a second run).
    const seen = new Set<string>();
    let n = 0;
    for await (const execution of h.client.workflow.list({ query: `TaskQueue = "${h.taskQueue}"` })) {
      const [, definitionId, key] = execution.workflowId.split(':');
      if (!definitionId || !key || !definitionIds.has(definitionId)) continue;
      if (seen.has(execution.runId)) continue;
      seen.add(execution.runId);
      byEvent.set(key, [...(byEvent.get(key) ?? []), execution.workflowId]);
      n++;
    }
    return n;
  };
  await waitFor(list, {
    what: `${expected.length} runs in Temporal's visibility`,
    until: (n) => n >= expected.length,
    timeoutMs: VISIBILITY_MS,
    intervalMs: 1000,
  });
  const wanted = new Map(expected.map((e) => [eventKey({ source: SOURCE, id: e.eventId }), [e.runId]]));
  expect(Object.fromEntries(byEvent)).toEqual(Object.fromEntries(wanted));
}

/** Terminates the ingest replicas' LISTEN connections to the harness database; how many. */
async function terminateListeners(): Promise<number> {
  const result = await rawQuery(
    h.database.url,
    `select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'activity-core-listen' and pid <> pg_backend_pid()`,
  );
  return result.rowCount ?? 0;
}
