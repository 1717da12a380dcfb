import { performance } from 'node:perf_hooks';
import { ActivityDefinitionSpec, eventKey, runWorkflowIdForEvent } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { startIngestService } from '@activity-core/ingest-service';
import { ensureStreams, topology } from '@activity-core/messaging';
import { createLogger } from '@activity-core/runtime';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { benchIngestConfig, runBench } from './support.ts';

const events = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 64);
const logger = createLogger({ level: 'error', base: { service: 'bench' } });

/** Runs `fn(0..n-1)` with at most `limit` at once; returns elapsed ms. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return performance.now() - t0;
}

await runBench(async (stack) => {
  const db = createDb({ url: stack.databaseUrl, poolMax: 4 });
  await migrateToLatest(db);
  const spec = ActivityDefinitionSpec.parse({
    key: 'bench-orders',
    name: 'Bench orders',
    trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
    taskTemplates: [{ key: 'review', title: 'Review order {{ event.data.orderId }}' }],
  });
  const definition = await createDefinition(db, { spec });
  const nc = await connect({ servers: stack.natsUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const t = topology('BENCH');
  await ensureStreams(jsm, t);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: stack.temporalNamespace });
  const taskQueue = 'bench-ingest';
  const body = (i: number, prefix: string) =>
    JSON.stringify({ orderId: `${prefix}-${i}`, total: 250, lines: [{ sku: 'A-1', qty: 2 }] });

  // Warm both paths (connections, the namespace cache) before measuring.
  await pool(50, concurrency, (i) =>
    client.workflow.start('RunActivityWorkflow', { taskQueue, workflowId: `warm-${i}`, args: [{}] }),
  );

  // 1. Raw: the same start ingest makes (same id scheme, same input shape), from the same process.
  const rawMs = await pool(events, concurrency, async (i) => {
    const envelope = {
      specversion: '1.0' as const,
      id: `raw-${i}`,
      source: 'urn:activity-core:nats',
      type: 'order.created',
      causationdepth: 0,
      data: JSON.parse(body(i, 'raw')) as unknown,
    };
    await client.workflow.start('RunActivityWorkflow', {
      taskQueue,
      workflowId: runWorkflowIdForEvent(definition.id, eventKey(envelope)),
      args: [{ definitionId: definition.id, version: 1, trigger: { kind: 'event', envelope } }],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  });

  // 2. Ingest: the events are in the stream first; the clock runs from the consumer's start
  //    until every message is acked.
  const subject = `${t.events.subjectPrefix}order.created`;
  await pool(events, 256, (i) => js.publish(subject, body(i, 'evt'), { msgID: `evt-${i}` }));
  // The real ingest service, as `node services/ingest/src/main.ts` runs it (it creates the
  // durable consumer `ac-ingest`). The clock includes its start-up: its own connections and
  // the definition index's first load.
  const t0 = performance.now();
  const ingest = await startIngestService(
    benchIngestConfig(stack, { TEMPORAL_TASK_QUEUE: taskQueue, AC_INGEST_MAX_IN_FLIGHT: String(concurrency) }),
    { logger },
  );
  for (;;) {
    const info = await jsm.consumers.info(t.events.stream, 'ac-ingest');
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const ingestMs = performance.now() - t0;
  const { metrics } = ingest;
  await ingest.stop();
  const value = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
    (await c.get()).values.reduce((a, v) => a + v.value, 0);
  const starts = await value(metrics.starts);
  const duplicates = await value(metrics.duplicateStarts);
  const latency = await metrics.startLatency.get();
  const count = latency.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const sum = latency.values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;

  const rawRate = (events / rawMs) * 1000;
  const ingestRate = (events / ingestMs) * 1000;
  process.stdout.write(
    [
      `events: ${events}, concurrency: ${concurrency} (Temporal dev server, SQLite WAL; nats-server; PostgreSQL)`,
      `raw client.workflow.start:   ${rawRate.toFixed(0)} starts/s (${rawMs.toFixed(0)} ms)`,
      `ingest events -> starts:     ${ingestRate.toFixed(0)} events/s (${ingestMs.toFixed(0)} ms; starts ${starts}, duplicates ${duplicates}, mean start latency ${((sum / Math.max(count, 1)) * 1000).toFixed(1)} ms)`,
      `ratio ingest / raw:          ${(ingestRate / rawRate).toFixed(2)}`,
      '',
    ].join('\n'),
  );
  const allStarted = starts === events;
  if (!allStarted) process.stderr.write(`expected ${events} starts, got ${starts}\n`);
  await nc.close();
  await connection.close();
  await db.destroy();
  return allStarted;
});
