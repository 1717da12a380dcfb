import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ActivityDefinitionSpec, EventEnvelope } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { ensureStreams, topology } from '@activity-core/messaging';
import { createLogger, silentTemporalLogger } from '@activity-core/runtime';
import { startWorker } from '@activity-core/worker-service/worker';
import { startRunActivity } from '@activity-core/workflows';
import { bundleWorkflows } from '@activity-core/workflows/worker';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { runBench } from './support.ts';

Runtime.install({ logger: new DefaultLogger('WARN') });
const iterations = Number(process.argv[2] ?? 20);
const warmup = 3;

interface Stats {
  name: string;
  p50: number;
  p95: number;
  mean: number;
}

function stats(name: string, samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { name, p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

await runBench(async (stack) => {
  const [bundle, trivialBundle] = await Promise.all([
    bundleWorkflows(),
    bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./trivial.workflow.ts', import.meta.url)),
      logger: silentTemporalLogger,
    }),
  ]);
  const db = createDb({ url: stack.databaseUrl, poolMax: 10 });
  await migrateToLatest(db);
  const nc = await connect({ servers: stack.natsUrl });
  const jsm = await jetstreamManager(nc);
  const topo = topology('bench');
  await ensureStreams(jsm, topo);
  const native = await NativeConnection.connect({ address: stack.temporalAddress });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: stack.temporalNamespace });
  const running = await startWorker({
    connection: native,
    namespace: stack.temporalNamespace,
    taskQueue: 'bench-runs',
    workflowBundle: bundle,
    db,
    nc,
    topology: topo,
    logger: createLogger({ level: 'error' }),
    http: { allowedHosts: [], env: {} },
    relay: { pollIntervalMs: 50 },
  });
  const trivialWorker = await Worker.create({
    connection: native,
    namespace: stack.temporalNamespace,
    taskQueue: 'bench-trivial',
    workflowBundle: trivialBundle,
  });
  const trivialRun = trivialWorker.run();

  const definition = await createDefinition(db, {
    spec: ActivityDefinitionSpec.parse({
      key: 'bench-orders',
      name: 'Bench',
      trigger: { kind: 'event', event: { types: ['order.created'] } },
      contextSources: [{ name: 'cfg', kind: 'static', value: { team: 'ops' } }],
      rules: [{ name: 'has_items', when: 'size(event.data.items) > 0' }],
      taskTemplates: [
        { key: 'review', forEach: 'event.data.items', title: 'Review {{ item }}', assignee: '{{ context.cfg.team }}' },
      ],
    }),
  });

  let seq = 0;
  const published = async (): Promise<number> => (await jsm.streams.info(topo.tasks.stream)).state.messages;
  async function oneRun(tasks: number): Promise<{ run: number; visible: number }> {
    const before = await published();
    const envelope = EventEnvelope.parse({
      specversion: '1.0',
      id: `bench-${seq++}`,
      source: 'urn:bench',
      type: 'order.created',
      data: { items: Array.from({ length: tasks }, (_, i) => `sku-${i}`) },
    });
    const t0 = performance.now();
    const { workflowId } = await startRunActivity(client, {
      taskQueue: 'bench-runs',
      input: { definitionId: definition.id, trigger: { kind: 'event', envelope } },
    });
    await client.workflow.getHandle(workflowId).result();
    const run = performance.now() - t0;
    while ((await published()) < before + tasks) await new Promise((r) => setTimeout(r, 2));
    return { run, visible: performance.now() - t0 };
  }
  async function trivial(): Promise<number> {
    const t0 = performance.now();
    await client.workflow.execute('trivialWorkflow', {
      taskQueue: 'bench-trivial',
      workflowId: `trivial-${seq++}`,
      args: [1],
    });
    return performance.now() - t0;
  }

  for (let i = 0; i < warmup; i++) {
    await trivial();
    await oneRun(1);
    await oneRun(10);
  }
  const samples = {
    trivial: [] as number[],
    run1: [] as number[],
    vis1: [] as number[],
    run10: [] as number[],
    vis10: [] as number[],
  };
  for (let i = 0; i < iterations; i++) {
    samples.trivial.push(await trivial());
    const one = await oneRun(1);
    samples.run1.push(one.run);
    samples.vis1.push(one.visible);
    const ten = await oneRun(10);
    samples.run10.push(ten.run);
    samples.vis10.push(ten.visible);
  }
  const results = [
    stats('trivial workflow, start → complete', samples.trivial),
    stats('run, 1 task:  start → run complete', samples.run1),
    stats('run, 1 task:  start → task row + tasks.created in JetStream', samples.vis1),
    stats('run, 10 tasks: start → run complete', samples.run10),
    stats('run, 10 tasks: start → 10 rows + 10 tasks.created in JetStream', samples.vis10),
  ];
  const fmt = (x: number) => x.toFixed(1).padStart(7);
  process.stdout.write(`\nRun duration, ${iterations} sequential runs per case after ${warmup} warm-up (ms)\n`);
  process.stdout.write(`${'case'.padEnd(64)}    p50     p95    mean\n`);
  for (const r of results) process.stdout.write(`${r.name.padEnd(64)}${fmt(r.p50)} ${fmt(r.p95)} ${fmt(r.mean)}\n`);
  const floor = results[0]?.p50 ?? 1;
  process.stdout.write(
    `\nratio to the trivial workflow (p50): ${results
      .slice(1)
      .map(
        (r) =>
          `${r.name.split(':')[0]}${r.name.includes('JetStream') ? ' (visible)' : ''} ${(r.p50 / floor).toFixed(1)}x`,
      )
      .join(', ')}\n`,
  );

  trivialWorker.shutdown();
  await trivialRun;
  await running.shutdown();
  await native.close();
  await connection.close();
  await nc.close();
  await db.destroy();
  return true;
});
