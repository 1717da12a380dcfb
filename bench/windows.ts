// Events/s into open event windows against plain starts, through the real ingest service and
// worker: `node bench/windows.ts [events] [keys]` (defaults 300 events, 20 keys), 3 reps.
//
// Per rep, the same number of events goes to a plain event definition (one run per event) and
// to a windowed one (batch, one hour, up to 1000 events: every window stays open). Measured
// from the first publish:
// - plain:            until ingest acked every event (Temporal accepted every start);
// - windows, signals: until ingest acked every event (Temporal accepted every signal-with-start);
// - windows, joined:  until every event joined its key's window (claimed in PostgreSQL by the
//   window workflow's join activity), i.e. until the events are in open windows.
// The plain runs finish before the windowed phase, so the phases do not share the machine.
import { performance } from 'node:perf_hooks';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { startIngestService } from '@activity-core/ingest-service';
import { ensureStreams, topology } from '@activity-core/messaging';
import { createLogger } from '@activity-core/runtime';
import { startWorker } from '@activity-core/worker-service/worker';
import { bundleWorkflows } from '@activity-core/workflows/worker';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { sql } from 'kysely';
import { benchIngestConfig, runBench } from './support.ts';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const events = Number(process.argv[2] ?? 300);
const keys = Number(process.argv[3] ?? 20);
const reps = 3;
const logger = createLogger({ level: 'error', base: { service: 'bench' } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn(0..n-1)` with at most `limit` at once. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Waits until `done()`, polling; throws after `timeoutMs` naming `what`. */
async function until(what: string, done: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const summary = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return { min: s[0] as number, median: s[Math.floor(s.length / 2)] as number, max: s[s.length - 1] as number };
};
const fmt = (samples: number[]) => {
  const { min, median, max } = summary(samples);
  return `min ${min.toFixed(0)} / median ${median.toFixed(0)} / max ${max.toFixed(0)} events/s`;
};

await runBench(async (stack) => {
  const db = createDb({ url: stack.databaseUrl, poolMax: 10 });
  await migrateToLatest(db);
  const nc = await connect({ servers: stack.natsUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const t = topology('BENCH');
  await ensureStreams(jsm, t);
  const taskQueue = 'bench-windows';
  const native = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await startWorker({
    connection: native,
    namespace: stack.temporalNamespace,
    taskQueue,
    workflowBundle: await bundleWorkflows(),
    db,
    nc,
    topology: t,
    logger,
    http: { allowedHosts: [], env: {} },
    relay: { pollIntervalMs: 100 },
  });
  const ingest = await startIngestService(benchIngestConfig(stack, { TEMPORAL_TASK_QUEUE: taskQueue }), { logger });
  const drained = async () => {
    const info = await jsm.consumers.info(t.events.stream, 'ac-ingest');
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };
  const count = async (query: ReturnType<typeof sql<{ n: string }>>) => Number((await query.execute(db)).rows[0]?.n);
  const define = async (key: string, type: string, window?: Record<string, unknown>) => {
    const definition = await createDefinition(db, {
      spec: ActivityDefinitionSpec.parse({
        key,
        name: key,
        trigger: { kind: 'event', event: { types: [type], ...(window ? { window } : {}) } },
        taskTemplates: [{ key: 'one', title: '{{ event.data.k }}' }],
      }),
    });
    // Until ingest's index has it, an event would be acked as unmatched: wait for a probe to match.
    await until(`${key} in the ingest index`, async () =>
      ingest.index
        .match({ specversion: '1.0', id: 'probe', source: 'urn:probe', type, causationdepth: 0 })
        .matched.some((m) => m.id === definition.id),
    );
    return definition;
  };
  const publish = (type: string, rep: number) =>
    pool(events, 64, (i) =>
      js.publish(
        `${t.events.subjectPrefix}${type}`,
        JSON.stringify({
          specversion: '1.0',
          id: `${type}-${i}`,
          source: 'urn:bench',
          type,
          data: { k: `key-${i % keys}`, n: i, rep },
        }),
      ),
    );

  const plainRates: number[] = [];
  const signalRates: number[] = [];
  const joinRates: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // Plain starts.
    const plain = await define(`plain-${rep}`, `plain.r${rep}`);
    let t0 = performance.now();
    await publish(`plain.r${rep}`, rep);
    await until('the plain starts', drained);
    plainRates.push((events / (performance.now() - t0)) * 1000);
    await until('the plain runs to finish', async () => {
      const n = await count(
        sql<{ n: string }>`select count(*) as n from runs where definition_id = ${plain.id} and status = 'succeeded'`,
      );
      return n === events;
    });

    // Into open windows.
    const windowed = await define(`windowed-${rep}`, `win.r${rep}`, {
      mode: 'batch',
      key: 'event.data.k',
      duration: 'PT1H',
      maxEvents: 1000,
    });
    t0 = performance.now();
    await publish(`win.r${rep}`, rep);
    await until('the window signals', drained);
    signalRates.push((events / (performance.now() - t0)) * 1000);
    await until('every event to join its window', async () => {
      const n = await count(
        sql<{ n: string }>`select count(*) as n from run_events where definition_id = ${windowed.id}`,
      );
      return n === events;
    });
    joinRates.push((events / (performance.now() - t0)) * 1000);
    const open = await count(
      sql<{ n: string }>`select count(*) as n from runs where definition_id = ${windowed.id} and status = 'waiting'`,
    );
    if (open !== keys) throw new Error(`expected ${keys} open windows, found ${open}`);
  }

  const median = (s: number[]) => summary(s).median;
  process.stdout.write(
    [
      `events: ${events} per phase, ${keys} window keys, ${reps} reps (Temporal dev server, nats-server, PostgreSQL; ingest and worker in-process)`,
      `plain starts (acked):          ${fmt(plainRates)}`,
      `windows, signals (acked):      ${fmt(signalRates)}`,
      `windows, joined (in PostgreSQL): ${fmt(joinRates)}`,
      `ratio signals / plain (median): ${(median(signalRates) / median(plainRates)).toFixed(2)}`,
      `ratio joined / plain (median):  ${(median(joinRates) / median(plainRates)).toFixed(2)}`,
      '',
    ].join('\n'),
  );
  await ingest.stop();
  await worker.shutdown();
  await native.close();
  await nc.close();
  await db.destroy();
  return true;
});
