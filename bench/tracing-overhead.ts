// What tracing costs: the same pipeline (NATS → ingest → RunActivityWorkflow → TaskInstanceWorkflow
// → PostgreSQL + outbox → relay → NATS) with tracing off (no OTEL_* variable) and on (OTLP/HTTP
// JSON to an in-process receiver that counts spans), in alternating blocks on the same servers.
// Each mode has its own worker and ingest processes, database, stream prefix and task queue, all
// running for the whole bench; only the mode being measured gets events. Per block: a burst of
// events with a traceparent, timed from the first publish to the last tasks.created; CPU ms per
// event of that mode's worker and ingest from /proc. Figures are min/median/max over the reps,
// and the on/off ratio per rep, summarised the same way. Also prints the workflow bundle sizes.
// With `--before <checkout>` (e.g. a worktree of main, dependencies installed) a third mode runs
// that checkout's services and bundle, tracing off: the cost of this code with tracing off
// against the code before it, as off/before per rep.
//
//   node bench/tracing-overhead.ts [--reps 3] [--burst 200] [--before <checkout>] [--only before,off,on]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import { bundleWorkflows } from '@activity-core/workflows/worker';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { loadAverage, treeCpuMs } from './pipeline/proc-stats.ts';
import { type BenchProcess, onInterrupt, runBench, spawnBenchProcess } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    burst: { type: 'string', default: '200' },
    before: { type: 'string' },
    /** A subset of the modes, e.g. `before,off` to compare only the code with tracing off. */
    only: { type: 'string' },
  },
});
const BEFORE = opts.before;
const REPS = Number(opts.reps);
const BURST = Number(opts.burst);
const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line = '') => process.stdout.write(`${line}\n`);
type Mode = 'before' | 'off' | 'on';
const MODES: readonly Mode[] = (BEFORE ? (['before', 'off', 'on'] as const) : (['off', 'on'] as const)).filter(
  (m) => opts.only === undefined || opts.only.split(',').includes(m),
);
const rootOf = (mode: Mode) => (mode === 'before' ? (BEFORE as string) : root);

type Proc = BenchProcess;
const spawnProc = spawnBenchProcess;

const summary = (xs: readonly number[], digits = 1) => {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number | undefined) => (x ?? Number.NaN).toFixed(digits);
  return `min ${f(s[0])} / median ${f(s[Math.floor(s.length / 2)])} / max ${f(s[s.length - 1])}`;
};

await runBench(async (stack) => {
  const work = mkdtempSync(join(tmpdir(), 'ac-bench-tracing-'));
  const loadAtStart = loadAverage();
  let spans = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }>;
      };
      for (const r of body.resourceSpans ?? []) for (const s of r.scopeSpans ?? []) spans += s.spans?.length ?? 0;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  };

  // The workflow code of each mode, built once as a deployment builds it.
  const bundles = {} as Record<Mode, string>;
  for (const mode of MODES) {
    bundles[mode] = join(work, `${mode}.js`);
    if (mode === 'before') {
      // That checkout's own build script, as its deployment would build it.
      execFileSync(
        process.execPath,
        [join(rootOf(mode), 'services/worker/src/build-workflow-bundle.ts'), bundles[mode]],
        {
          env: { PATH: process.env.PATH ?? '' },
        },
      );
    } else {
      writeFileSync(bundles[mode], (await bundleWorkflows({ tracing: mode === 'on' })).code);
    }
    const size = statSync(bundles[mode]).size;
    out(`workflow bundle, ${mode}: ${(size / 1024 / 1024).toFixed(2)} MiB`);
  }

  if (!stack.adminDatabaseUrl) throw new Error('the bench needs its own PostgreSQL');
  const admin = createDb({ url: stack.adminDatabaseUrl, poolMax: 1 });
  const urls = {} as Record<Mode, string>;
  for (const mode of MODES) {
    await sql.raw(`create database bench_tracing_${mode}`).execute(admin);
    const url = new URL(stack.adminDatabaseUrl);
    url.pathname = `/bench_tracing_${mode}`;
    urls[mode] = url.toString();
    const db = createDb({ url: urls[mode], poolMax: 2 });
    await migrateToLatest(db);
    await createDefinition(db, {
      spec: ActivityDefinitionSpec.parse({
        key: 'bench-traced',
        name: 'Bench tracing: one task per event',
        trigger: { kind: 'event', event: { types: ['bench.traced'] } },
        taskTemplates: [{ key: 'task', title: 'Task {{ event.data.n }}' }],
      }),
    });
    await db.destroy();
  }
  await admin.destroy();

  const spawned: Proc[] = [];
  const stopAll = async () => {
    for (const p of spawned.splice(0)) await p.stop();
  };
  onInterrupt(stopAll);
  const procs = {} as Record<Mode, { worker: Proc; ingest: Proc }>;
  for (const mode of MODES) {
    const env = {
      DATABASE_URL: urls[mode],
      NATS_URL: stack.natsUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.temporalNamespace,
      TEMPORAL_TASK_QUEUE: `bench-tracing-${mode}`,
      AC_STREAM_PREFIX: mode.toUpperCase(),
      AC_SCHEDULE_ID_PREFIX: `bench-tracing-${mode}-`,
      LOG_LEVEL: 'info',
      ...(mode === 'on' ? otel : {}),
    };
    const worker = await spawnProc(
      `${mode}-worker`,
      join(rootOf(mode), 'services/worker/src/main.ts'),
      { ...env, AC_WORKER_PORT: '0', AC_WORKFLOW_BUNDLE: bundles[mode] },
      /"worker ready"/,
    );
    spawned.push(worker);
    const ingest = await spawnProc(
      `${mode}-ingest`,
      join(rootOf(mode), 'services/ingest/src/main.ts'),
      { ...env, AC_INGEST_PORT: '0' },
      /"ingest ready"/,
    );
    spawned.push(ingest);
    procs[mode] = { worker, ingest };
  }

  const nc = await connect({ servers: stack.natsUrl });
  const js = jetstream(nc);
  const received: Record<Mode, number> = { before: 0, off: 0, on: 0 };
  for (const mode of MODES) {
    const t = topology(mode.toUpperCase());
    nc.subscribe(`${t.tasks.subjectPrefix}created.>`, { callback: () => void received[mode]++ });
  }
  const block = async (mode: Mode, rep: number) => {
    const t = topology(mode.toUpperCase());
    const cpu0 = { worker: treeCpuMs(procs[mode].worker.pid), ingest: treeCpuMs(procs[mode].ingest.pid) };
    const spans0 = spans;
    const target = received[mode] + BURST;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: BURST }, (_, n) =>
        js.publish(
          `${t.events.subjectPrefix}bench.traced`,
          JSON.stringify({
            specversion: '1.0',
            id: `${mode}-${rep}-${n}`,
            source: 'urn:bench',
            type: 'bench.traced',
            traceparent: `00-${(rep * 100_000 + n + 1).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`,
            data: { n },
          }),
        ),
      ),
    );
    const deadline = Date.now() + 300_000;
    while (received[mode] < target) {
      if (Date.now() > deadline) throw new Error(`${mode}: ${target - received[mode]} tasks.created missing`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ms = performance.now() - t0;
    // Let the last spans and CPU of the burst settle (batch export every 5 s by default).
    await new Promise((resolve) => setTimeout(resolve, mode === 'on' ? 6000 : 1000));
    return {
      eventsPerSec: (BURST / ms) * 1000,
      workerCpu: (treeCpuMs(procs[mode].worker.pid) - cpu0.worker) / BURST,
      ingestCpu: (treeCpuMs(procs[mode].ingest.pid) - cpu0.ingest) / BURST,
      spansPerEvent: (spans - spans0) / BURST,
    };
  };

  // One warm-up block per mode (JIT, caches, connections), not counted.
  for (const mode of MODES) await block(mode, 0);
  const figures: Record<Mode, Array<Awaited<ReturnType<typeof block>>>> = { before: [], off: [], on: [] };
  for (let rep = 1; rep <= REPS; rep++) {
    for (const mode of rep % 2 === 1 ? MODES : [...MODES].reverse()) {
      const f = await block(mode, rep);
      figures[mode].push(f);
      out(
        `rep ${rep} tracing ${mode}: ${f.eventsPerSec.toFixed(1)} events/s, worker ${f.workerCpu.toFixed(1)} ms CPU/event, ingest ${f.ingestCpu.toFixed(1)} ms CPU/event, ${f.spansPerEvent.toFixed(1)} spans/event (load ${loadAverage()})`,
      );
    }
  }
  await nc.drain();
  await stopAll();
  await new Promise((resolve) => receiver.close(resolve));
  rmSync(work, { recursive: true, force: true });

  out();
  out(`tracing overhead, ${REPS} reps of ${BURST} events (load at start ${loadAtStart}, at end ${loadAverage()})`);
  for (const mode of MODES) {
    const f = figures[mode];
    out(`  ${mode === 'before' ? `before (${BEFORE}), tracing off` : `tracing ${mode}`}:`);
    out(`    events/s              ${summary(f.map((x) => x.eventsPerSec))}`);
    out(`    worker ms CPU/event   ${summary(f.map((x) => x.workerCpu))}`);
    out(`    ingest ms CPU/event   ${summary(f.map((x) => x.ingestCpu))}`);
    out(`    spans/event exported  ${summary(f.map((x) => x.spansPerEvent))}`);
  }
  const ratios = (a: Mode, b: Mode) => {
    const ratio = (pick: (x: (typeof figures)['on'][number]) => number) =>
      summary(
        figures[a].map((x, i) => pick(x) / pick(figures[b][i] as typeof x)),
        2,
      );
    out(`  ${a} / ${b}, per rep:`);
    out(`    events/s              ${ratio((x) => x.eventsPerSec)}`);
    out(`    worker ms CPU/event   ${ratio((x) => x.workerCpu)}`);
    out(`    ingest ms CPU/event   ${ratio((x) => x.ingestCpu)}`);
  };
  if (MODES.includes('on') && MODES.includes('off')) ratios('on', 'off');
  if (MODES.includes('off') && MODES.includes('before')) ratios('off', 'before');
  return true;
});
