// The whole pipeline against two raw baselines on the same servers, in alternating blocks:
//   product: NATS → ingest → RunActivityWorkflow → TaskInstanceWorkflow → PostgreSQL + outbox → relay → NATS
//   (a)      NATS → a minimal consumer → a workflow whose one activity publishes to NATS
//   (b)      NATS → the same consumer → a parent that starts one child (ABANDON, waiting for the
//            start) whose one LOCAL activity publishes to NATS: the mission's minimal shape
// Every system runs as its own processes (worker, ingest) with the same Temporal tuning, so CPU
// per event is read per process from /proc. Figures are min/median/max over the reps; ratios are
// taken per rep (the blocks of one rep ran back to back) and then summarised.
//
//   node bench/pipeline.ts [--reps 3] [--burst 300] [--seconds 20] [--fanout 1000] [--open 10000]
//                          [--open-hold 120] [--profile <dir>]   (node --cpu-prof for both workers, into <dir>)
//                          [--worker-node-flags="--max-semi-space-size=16"]   (Node/V8 flags of both workers)
//
// The memory phase tops the product up to --open open tasks with fan-out events of --fanout tasks
// (1,000 when --fanout is 0), printing the worker's memory every 15 s while they are created and
// for --open-hold seconds after: RSS, V8 heap, external memory, the SDK's sticky cache size.
//
// Worker tuning comes from the environment (AC_WORKER_*, and glibc's MALLOC_ARENA_MAX), given to both
// workers alike.
// The first failed run (or task, or baseline workflow) stops the benchmark with its reason:
// its tasks would never arrive.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition } from '@activity-core/db';
import { ensureStreams, topology } from '@activity-core/messaging';
import { freePort } from '@activity-core/stack';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { loadAverage, rssMb, threadCpuMs, treeCpuMs } from './pipeline/proc-stats.ts';
import { preparePipeline } from './pipeline/setup.ts';
import { type BenchProcess, onInterrupt, runBench, spawnBenchProcess } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    burst: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '20' },
    rates: { type: 'string', default: '20,50' },
    fanout: { type: 'string', default: '1000' },
    open: { type: 'string', default: '10000' },
    'open-hold': { type: 'string', default: '120' },
    profile: { type: 'string' },
    'worker-node-flags': { type: 'string', default: '' },
    only: { type: 'string', default: 'product,a,b' },
  },
});
const REPS = Number(opts.reps);
const BURST = Number(opts.burst);
const SECONDS = Number(opts.seconds);
const RATES = String(opts.rates).split(',').map(Number);
const FANOUT = Number(opts.fanout);
const OPEN = Number(opts.open);
const OPEN_HOLD_S = Number(opts['open-hold']);
/** Tasks per top-up event of the memory phase. */
const OPEN_CHUNK = FANOUT > 0 ? FANOUT : 1000;
/** How often the memory phase prints the worker's memory. */
const MEMORY_SAMPLE_MS = 15_000;
const PROFILE = opts.profile;
const WORKER_NODE_FLAGS = String(opts['worker-node-flags']).split(' ').filter(Boolean);

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line = '') => process.stdout.write(`${line}\n`);

type SystemName = 'product' | 'a' | 'b';
const SYSTEMS = String(opts.only)
  .split(',')
  .filter((s): s is SystemName => s === 'product' || s === 'a' || s === 'b');
const LABEL: Record<SystemName, string> = { product: 'activity-core', a: '(a) 1 activity', b: '(b) child + LA' };

type Proc = BenchProcess;

/** This bench also echoes uncaught errors, and profiles with Node flags (`--cpu-prof`). */
const spawnProc = (
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  nodeFlags: string[] = [],
) => spawnBenchProcess(name, script, env, ready, { nodeFlags, echo: /"level":"(error|warn)"|Error/ });

/** The Temporal SDK's worker metrics (Prometheus text) as `name{labels}` → value; counters and histogram counts only. */
async function coreMetrics(address: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await fetch(`http://${address}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    const key = line.slice(0, at);
    if (/_bucket\{/.test(key) || /_sum(\{|$)/.test(key)) continue;
    // Per-queue labels differ between the systems; keep the metric name and the labels that say what.
    const name = key.replace(/\{.*\}/, '');
    const kind = key.match(/(?:workflow_type|activity_type|poller_type|failure_reason)="([^"]+)"/g)?.join(',') ?? '';
    const k = kind ? `${name}{${kind}}` : name;
    out.set(k, (out.get(k) ?? 0) + Number(line.slice(at + 1)));
  }
  return out;
}

/** How often a wait for tasks asks whether a run failed. */
const FAILURE_CHECK_MS = 2000;

/** Percentile of sorted samples. */
function pct(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
const median = (xs: readonly number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

/** Tracks published events and the tasks.created messages they lead to. */
class Tracker {
  readonly #sent = new Map<string, number>();
  readonly #expected = new Map<string, number>();
  readonly #received = new Map<string, number[]>();
  #waiters: Array<() => void> = [];

  sent(eventId: string, tasks: number, at: number): void {
    this.#sent.set(eventId, at);
    this.#expected.set(eventId, tasks);
  }

  task(eventId: string | undefined, at: number): void {
    if (eventId === undefined || !this.#expected.has(eventId)) return;
    const list = this.#received.get(eventId) ?? [];
    list.push(at);
    this.#received.set(eventId, list);
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * Resolves when every task of `ids` arrived; throws after `timeoutMs` naming how many are
   * missing, or as soon as `failed` (asked every few seconds) names a failed run: its tasks
   * would never come.
   */
  async complete(ids: readonly string[], timeoutMs: number, failed?: () => Promise<string | undefined>): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let nextCheck = performance.now() + FAILURE_CHECK_MS;
    for (;;) {
      const missing = ids.reduce(
        (n, id) => n + Math.max(0, (this.#expected.get(id) ?? 0) - (this.#received.get(id)?.length ?? 0)),
        0,
      );
      if (missing === 0) return;
      if (failed && performance.now() >= nextCheck) {
        const reason = await failed();
        if (reason !== undefined) throw new Error(`stopped with ${missing} tasks.created missing: ${reason}`);
        nextCheck = performance.now() + FAILURE_CHECK_MS;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out with ${missing} tasks.created missing`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Publish → last tasks.created of each event, ms. */
  latencies(ids: readonly string[]): number[] {
    return ids.map((id) => Math.max(...(this.#received.get(id) ?? [Number.NaN])) - (this.#sent.get(id) ?? 0));
  }

  firstSent(ids: readonly string[]): number {
    return Math.min(...ids.map((id) => this.#sent.get(id) ?? Number.POSITIVE_INFINITY));
  }

  lastReceived(ids: readonly string[]): number {
    return Math.max(...ids.flatMap((id) => this.#received.get(id) ?? []));
  }
}

/** One rep's figures for one system. */
interface Figures {
  tasksPerSec: number;
  cpu: Record<string, number>;
  threads: Record<string, number>;
  /** Temporal SDK worker metrics per event (burst). */
  core: Record<string, number>;
  rates: Record<number, { p50: number; p95: number; p99: number; growth: number; drainMs: number }>;
  fanoutS?: number;
  workerRss: number;
  ingestRss: number;
}

await runBench(async (stack, { dataDir }) => {
  const work = mkdtempSync(join(tmpdir(), 'ac-bench-pipeline-'));
  const loadAtStart = loadAverage();
  const { servers } = JSON.parse(readFileSync(join(dataDir, 'stack.pids.json'), 'utf8')) as {
    servers: Array<{ name: string; pid: number }>;
  };
  const serverPid = (name: string) => servers.find((s) => s.name === name)?.pid;

  // The workflow code of both workers is built here, once, as a deployment would build it.
  const metricsAt = { product: `127.0.0.1:${await freePort()}`, base: `127.0.0.1:${await freePort()}` };
  /** The product worker's ops port: its /metrics has Node's heap figures (prom-client defaults). */
  const productOpsPort = await freePort();
  const { productBundle, baselineBundle, db, env: common, tuning } = await preparePipeline(stack, work);
  await createDefinition(db, {
    spec: ActivityDefinitionSpec.parse({
      key: 'bench-fanout',
      name: 'Bench fan-out: one task per item',
      trigger: { kind: 'event', event: { types: ['bench.fanout'] } },
      limits: { maxTasksPerRun: Math.max(FANOUT, OPEN_CHUNK) },
      taskTemplates: [{ key: 'item', forEach: 'event.data.items', title: 'Item {{ item }}' }],
    }),
  });

  const product = topology('');
  const base = topology('BASE');
  const profileFlags = (name: string) => {
    if (!PROFILE) return WORKER_NODE_FLAGS;
    mkdirSync(join(PROFILE, name), { recursive: true });
    return [...WORKER_NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${join(PROFILE, name)}`];
  };
  const spawned: Proc[] = [];
  const stopAll = async () => {
    for (const p of spawned.splice(0)) await p.stop();
  };
  onInterrupt(stopAll);
  const track = async (p: Promise<Proc>) => {
    const proc = await p;
    spawned.push(proc);
    return proc;
  };
  const procs = {
    productWorker: await track(
      spawnProc(
        'worker',
        join(root, 'services/worker/src/main.ts'),
        {
          ...common,
          TEMPORAL_TASK_QUEUE: 'bench-product',
          AC_WORKER_PORT: String(productOpsPort),
          AC_WORKFLOW_BUNDLE: productBundle,
          AC_WORKER_CORE_METRICS_ADDRESS: metricsAt.product,
          LOG_LEVEL: 'info',
        },
        /"worker ready"/,
        profileFlags('product-worker'),
      ),
    ),
    productIngest: await track(
      spawnProc(
        'ingest',
        join(root, 'services/ingest/src/main.ts'),
        { ...common, TEMPORAL_TASK_QUEUE: 'bench-product', AC_INGEST_PORT: '0', LOG_LEVEL: 'info' },
        /"ingest ready"/,
      ),
    ),
    baseWorker: await track(
      spawnProc(
        'baseline-worker',
        join(root, 'bench/pipeline/baseline-worker.ts'),
        {
          ...common,
          TEMPORAL_TASK_QUEUE: 'bench-baseline',
          AC_STREAM_PREFIX: 'BASE',
          BENCH_BASELINE_BUNDLE: baselineBundle,
          AC_WORKER_CORE_METRICS_ADDRESS: metricsAt.base,
        },
        /baseline worker ready/,
        profileFlags('baseline-worker'),
      ),
    ),
    baseIngest: await track(
      spawnProc(
        'baseline-ingest',
        join(root, 'bench/pipeline/baseline-ingest.ts'),
        { ...common, TEMPORAL_TASK_QUEUE: 'bench-baseline', AC_STREAM_PREFIX: 'BASE' },
        /baseline ingest ready/,
      ),
    ),
  };

  try {
    const nc = await connect({ servers: stack.natsUrl });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, product);
    await ensureStreams(jsm, base);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection, namespace: stack.temporalNamespace });

    const tracker = new Tracker();
    /** The first failed (or terminated, timed-out) workflow of a system and why, if any: the benchmark stops on it. */
    const workflowTypes: Record<SystemName, string> = {
      product: `'RunActivityWorkflow', 'TaskInstanceWorkflow'`,
      a: `'baselineA'`,
      b: `'baselineB', 'baselineTask'`,
    };
    const failedRun = (system: SystemName) => async (): Promise<string | undefined> => {
      const query = `WorkflowType IN (${workflowTypes[system]}) AND ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')`;
      for await (const wf of client.workflow.list({ query, pageSize: 1 })) {
        const why = await client.workflow
          .getHandle(wf.workflowId, wf.runId)
          .result()
          .then(
            () => 'no failure recorded',
            (error: unknown) => {
              const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
              return cause instanceof Error ? cause.message : String(cause);
            },
          );
        return `${LABEL[system]}: ${wf.type} ${wf.workflowId} ${wf.status.name}: ${why}`;
      }
      return undefined;
    };
    const subscribe = (subject: string, eventIdOf: (body: Record<string, unknown>) => unknown) => {
      const sub = nc.subscribe(subject);
      void (async () => {
        for await (const m of sub) {
          const at = performance.now();
          const id = eventIdOf(m.json<Record<string, unknown>>());
          tracker.task(typeof id === 'string' ? id : undefined, at);
        }
      })();
    };
    // A task's CloudEvent names the event that caused it; the baselines' body carries it.
    subscribe(`${product.tasks.subjectPrefix}created.>`, (body) => body.causationid);
    subscribe(`${base.tasks.subjectPrefix}created.>`, (body) => body.eventId);

    const processes: Record<string, () => number> = {
      temporal: () => treeCpuMs(serverPid('temporal') ?? -1),
      postgres: () => treeCpuMs(serverPid('postgres') ?? -1),
      nats: () => treeCpuMs(serverPid('nats-server') ?? serverPid('nats') ?? -1),
    };
    const workerOf = (s: SystemName) => (s === 'product' ? procs.productWorker : procs.baseWorker);
    const ingestOf = (s: SystemName) => (s === 'product' ? procs.productIngest : procs.baseIngest);
    const cpuNow = (s: SystemName) => ({
      worker: treeCpuMs(workerOf(s).pid),
      ingest: treeCpuMs(ingestOf(s).pid),
      ...Object.fromEntries(Object.entries(processes).map(([k, f]) => [k, f()])),
    });

    let seq = 0;
    /** Publishes one event of `system` that leads to `tasks` tasks; resolves with its id when JetStream has it. */
    const publish = async (system: SystemName, tasks: number): Promise<string> => {
      const id = `${system}-${seq++}`;
      const fan = tasks > 1;
      const subject =
        system === 'product'
          ? `${product.events.subjectPrefix}bench.${fan ? 'fanout' : 'pipeline'}`
          : `${base.events.subjectPrefix}baseline.${system}`;
      const body =
        system === 'product' ? (fan ? { items: Array.from({ length: tasks }, (_, i) => i) } : { n: seq }) : { tasks };
      tracker.sent(id, tasks, performance.now());
      await js.publish(subject, JSON.stringify(body), { msgID: id });
      return id;
    };

    /** Waits until the system has nothing left in flight: its consumer is drained and its runs are closed. */
    const settle = async (system: SystemName) => {
      const t = system === 'product' ? product : base;
      const query =
        system === 'product'
          ? `WorkflowType = 'RunActivityWorkflow' AND ExecutionStatus = 'Running'`
          : `WorkflowType IN ('baselineA', 'baselineB', 'baselineTask') AND ExecutionStatus = 'Running'`;
      const deadline = Date.now() + 300_000;
      for (;;) {
        const info = await jsm.consumers.info(t.events.stream, 'ac-ingest');
        const running = (await client.workflow.count(query)).count;
        const outbox =
          system === 'product'
            ? Number(
                (
                  await db
                    .selectFrom('outbox')
                    .select((eb) => eb.fn.countAll<number>().as('n'))
                    .where('published_at', 'is', null)
                    .executeTakeFirstOrThrow()
                ).n,
              )
            : 0;
        if (info.num_pending === 0 && info.num_ack_pending === 0 && running === 0 && outbox === 0) break;
        if (Date.now() > deadline) throw new Error(`${system} did not settle: ${running} running, ${outbox} outbox`);
        const failure = await failedRun(system)();
        if (failure !== undefined) throw new Error(`${system} did not settle: ${failure}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await new Promise((r) => setTimeout(r, 500));
    };

    /** A burst of `n` one-task events as fast as JetStream takes them: tasks/s and CPU per event. */
    const burst = async (system: SystemName, n: number, f: Figures) => {
      const before = cpuNow(system);
      const threadsBefore = threadCpuMs(workerOf(system).pid);
      const metricsAddress = system === 'product' ? metricsAt.product : metricsAt.base;
      const coreBefore = await coreMetrics(metricsAddress);
      const ids: string[] = [];
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < n; i++) {
        const p: Promise<void> = publish(system, 1).then((id) => {
          ids.push(id);
          inFlight.delete(p);
        });
        inFlight.add(p);
        if (inFlight.size >= 32) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await tracker.complete(ids, 600_000, failedRun(system));
      f.tasksPerSec = (n / (tracker.lastReceived(ids) - tracker.firstSent(ids))) * 1000;
      await settle(system);
      const after = cpuNow(system);
      f.cpu = Object.fromEntries(
        Object.entries(after).map(([k, v]) => [k, (v - ((before as Record<string, number>)[k] ?? 0)) / n]),
      );
      const coreAfter = await coreMetrics(metricsAddress);
      f.core = Object.fromEntries(
        [...coreAfter].map(([k, v]) => [k, (v - (coreBefore.get(k) ?? 0)) / n] as const).filter(([, v]) => v > 0),
      );
      const threadsAfter = threadCpuMs(workerOf(system).pid);
      f.threads = Object.fromEntries(
        [...threadsAfter].map(([k, v]) => [k, (v - (threadsBefore.get(k) ?? 0)) / n] as const).filter(([, v]) => v > 0),
      );
    };

    /** `rate` one-task events per second for SECONDS: publish → tasks.created percentiles. */
    const paced = async (system: SystemName, rate: number, f: Figures) => {
      const n = Math.round(rate * SECONDS);
      const ids: string[] = [];
      const pending: Promise<unknown>[] = [];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const wait = t0 + (i * 1000) / rate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        pending.push(publish(system, 1).then((id) => ids.push(id)));
      }
      await Promise.all(pending);
      const lastSent = performance.now();
      await tracker.complete(ids, 600_000, failedRun(system));
      const order = [...ids].sort((x, y) => Number(x.split('-')[1]) - Number(y.split('-')[1]));
      const lat = tracker.latencies(order);
      const sorted = [...lat].sort((a, b) => a - b);
      const q = Math.max(1, Math.floor(lat.length / 4));
      f.rates[rate] = {
        p50: pct(sorted, 0.5),
        p95: pct(sorted, 0.95),
        p99: pct(sorted, 0.99),
        // > 1 when later events wait longer than early ones: a queue that grows.
        growth: median(lat.slice(-q)) / median(lat.slice(0, q)),
        drainMs: tracker.lastReceived(ids) - lastSent,
      };
      await settle(system);
    };

    /** One event → FANOUT tasks: publish → the last tasks.created, s. */
    const fanout = async (system: SystemName, f: Figures) => {
      const id = await publish(system, FANOUT);
      await tracker.complete([id], 900_000, failedRun(system));
      f.fanoutS = (tracker.latencies([id])[0] ?? Number.NaN) / 1000;
      await settle(system);
    };

    const openTasks = async () =>
      Number(
        (
          await db
            .selectFrom('task_instances')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('status', '=', 'open')
            .executeTakeFirstOrThrow()
        ).n,
      );

    await new Promise((r) => setTimeout(r, 3000));
    const idle = {
      worker: rssMb(procs.productWorker.pid),
      ingest: rssMb(procs.productIngest.pid),
      baseWorker: rssMb(procs.baseWorker.pid),
      baseIngest: rssMb(procs.baseIngest.pid),
    };
    out(
      `idle RSS (MB): worker ${idle.worker.toFixed(0)}, ingest ${idle.ingest.toFixed(0)}; baseline worker ${idle.baseWorker.toFixed(0)}, baseline ingest ${idle.baseIngest.toFixed(0)}`,
    );

    // Warm-up: connections, caches, JIT.
    for (const s of SYSTEMS) {
      const w: Figures = { tasksPerSec: 0, cpu: {}, threads: {}, core: {}, rates: {}, workerRss: 0, ingestRss: 0 };
      await burst(s, 40, w);
    }

    const reps: Array<Partial<Record<SystemName, Figures>>> = [];
    for (let rep = 0; rep < REPS; rep++) {
      const order = SYSTEMS.map((_, i) => SYSTEMS[(i + rep) % SYSTEMS.length] as SystemName);
      const figures: Partial<Record<SystemName, Figures>> = {};
      for (const s of order) {
        const f: Figures = { tasksPerSec: 0, cpu: {}, threads: {}, core: {}, rates: {}, workerRss: 0, ingestRss: 0 };
        await burst(s, BURST, f);
        for (const rate of RATES) await paced(s, rate, f);
        if (s !== 'a' && FANOUT > 0) await fanout(s, f);
        f.workerRss = rssMb(workerOf(s).pid);
        f.ingestRss = rssMb(ingestOf(s).pid);
        figures[s] = f;
        out(
          `rep ${rep + 1} ${LABEL[s].padEnd(16)} ${f.tasksPerSec.toFixed(1)} tasks/s; ${RATES.map((r) => `@${r}/s p50 ${f.rates[r]?.p50.toFixed(0)} ms`).join(', ')}; worker ${f.cpu.worker?.toFixed(1)} ms/ev${f.fanoutS !== undefined ? `; fan-out ${f.fanoutS.toFixed(1)} s` : ''} (load ${loadAverage()})`,
        );
      }
      reps.push(figures);
    }

    /** One line on the product worker's memory: RSS from /proc, the rest from its /metrics. */
    const memoryLine = async (label: string) => {
      const text = await fetch(`http://127.0.0.1:${productOpsPort}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      const gauge = (name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
        return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
      out(
        `  ${label.padEnd(22)} open ${String(await openTasks()).padStart(6)}; worker RSS ${rssMb(procs.productWorker.pid).toFixed(0)} MB, ` +
          `V8 heap used ${mb(gauge('nodejs_heap_size_used_bytes'))} / total ${mb(gauge('nodejs_heap_size_total_bytes'))} MB, ` +
          `external ${mb(gauge('nodejs_external_memory_bytes'))} MB, sticky cache ${gauge('temporal_sticky_cache_size')} (load ${loadAverage()})`,
      );
    };

    // Memory with many open tasks: top the product up to OPEN open tasks, then read the worker's
    // memory while they are created and for OPEN_HOLD_S after (the sticky cache evicts past its size).
    let open = await openTasks();
    const final = { worker: rssMb(procs.productWorker.pid), ingest: rssMb(procs.productIngest.pid) };
    if (SYSTEMS.includes('product') && open < OPEN) {
      out();
      out(`memory phase: up to ${OPEN} open tasks in events of ${OPEN_CHUNK}`);
      await memoryLine('before');
      const t0 = performance.now();
      const topUps: string[] = [];
      while (open + topUps.length * OPEN_CHUNK < OPEN) topUps.push(await publish('product', OPEN_CHUNK));
      const sampler = setInterval(
        () => void memoryLine(`creating +${((performance.now() - t0) / 1000).toFixed(0)} s`),
        MEMORY_SAMPLE_MS,
      );
      try {
        await tracker.complete(topUps, 1_800_000, failedRun('product'));
        await settle('product');
      } finally {
        clearInterval(sampler);
      }
      open = await openTasks();
      const created = performance.now();
      await memoryLine(`created in ${((created - t0) / 1000).toFixed(0)} s`);
      for (let at = MEMORY_SAMPLE_MS; at <= OPEN_HOLD_S * 1000; at += MEMORY_SAMPLE_MS) {
        await new Promise((r) => setTimeout(r, created + at - performance.now()));
        await memoryLine(`idle +${at / 1000} s`);
      }
      final.worker = rssMb(procs.productWorker.pid);
      final.ingest = rssMb(procs.productIngest.pid);
    }

    // The table.
    const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
    const mmm = (xs: number[], digits = 1) => {
      const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
      return s.length === 0 ? '–' : `${fmt(pct(s, 0), digits)}/${fmt(pct(s, 0.5), digits)}/${fmt(pct(s, 1), digits)}`;
    };
    const rows: Array<[string, (f: Figures) => number | undefined, number]> = [
      ['tasks/s (burst)', (f) => f.tasksPerSec, 1],
      ...RATES.flatMap(
        (r): Array<[string, (f: Figures) => number | undefined, number]> => [
          [`p50 publish→tasks.created @${r}/s (ms)`, (f) => f.rates[r]?.p50, 0],
          [`p95 @${r}/s (ms)`, (f) => f.rates[r]?.p95, 0],
          [`p99 @${r}/s (ms)`, (f) => f.rates[r]?.p99, 0],
          [`backlog growth @${r}/s (last/first quarter p50)`, (f) => f.rates[r]?.growth, 2],
          [`drain after last publish @${r}/s (ms)`, (f) => f.rates[r]?.drainMs, 0],
        ],
      ),
      ['worker CPU per 1-task event (ms)', (f) => f.cpu.worker, 2],
      ['ingest CPU per event (ms)', (f) => f.cpu.ingest, 2],
      ['Temporal server CPU per event (ms)', (f) => f.cpu.temporal, 2],
      ['PostgreSQL CPU per event (ms)', (f) => f.cpu.postgres, 2],
      ['NATS CPU per event (ms)', (f) => f.cpu.nats, 2],
      [`fan-out: 1 event → ${FANOUT} tasks (s)`, (f) => f.fanoutS, 1],
      ['worker RSS after the rep (MB)', (f) => f.workerRss, 0],
      ['ingest RSS after the rep (MB)', (f) => f.ingestRss, 0],
    ];
    const col = (s: string, w: number) => s.padEnd(w);
    out();
    out(
      `pipeline benchmark: ${REPS} reps, burst ${BURST}, paced ${SECONDS} s at ${RATES.join(', ')} ev/s, fan-out ${FANOUT}; min/median/max`,
    );
    out(`machine: ${process.env.HOSTNAME ?? ''} load at start ${loadAtStart}, at end ${loadAverage()}`);
    out(
      `worker tuning: ${Object.keys(tuning).length > 0 ? JSON.stringify(tuning) : 'defaults'}; worker node flags: ${WORKER_NODE_FLAGS.join(' ') || 'none'}`,
    );
    out();
    out(
      `${col('figure', 48)}${col(LABEL.product, 22)}${col(LABEL.a, 22)}${col(LABEL.b, 22)}${col('product/(a)', 18)}product/(b)`,
    );
    for (const [name, get, digits] of rows) {
      const value = (f: Figures | undefined) => (f ? (get(f) ?? Number.NaN) : Number.NaN);
      const series = (s: SystemName) => reps.map((r) => value(r[s]));
      const ratio = (s: SystemName) => reps.map((r) => value(r.product) / value(r[s]));
      out(
        `${col(name, 48)}${col(mmm(series('product'), digits), 22)}${col(mmm(series('a'), digits), 22)}${col(mmm(series('b'), digits), 22)}${col(mmm(ratio('a'), 2), 18)}${mmm(ratio('b'), 2)}`,
      );
    }
    out();
    out('worker CPU per 1-task event by thread (ms, median of the reps):');
    for (const s of SYSTEMS) {
      const names = new Set(reps.flatMap((r) => Object.keys(r[s]?.threads ?? {})));
      const parts = [...names]
        .map((n) => [n, median(reps.map((r) => r[s]?.threads[n] ?? 0))] as const)
        .filter(([, v]) => v >= 0.05)
        .sort((x, y) => y[1] - x[1])
        .map(([n, v]) => `${n} ${v.toFixed(2)}`);
      out(`  ${col(LABEL[s], 18)}${parts.join(', ')}`);
    }
    out();
    out('Temporal worker metrics per 1-task event (burst, median of the reps):');
    for (const s of SYSTEMS) {
      const names = new Set(reps.flatMap((r) => Object.keys(r[s]?.core ?? {})));
      out(`  ${LABEL[s]}`);
      for (const n of [...names].sort()) {
        const v = median(reps.map((r) => r[s]?.core[n] ?? 0));
        if (v >= 0.01) out(`    ${v.toFixed(2).padStart(8)}  ${n}`);
      }
    }
    out();
    out(
      `memory: worker idle ${fmt(idle.worker, 0)} MB, with ${open} open tasks ${fmt(final.worker, 0)} MB; ingest idle ${fmt(idle.ingest, 0)} MB, at the end ${fmt(final.ingest, 0)} MB (baseline worker idle ${fmt(idle.baseWorker, 0)} MB, baseline ingest idle ${fmt(idle.baseIngest, 0)} MB)`,
    );

    await nc.close();
    await connection.close();
    return true;
  } finally {
    await stopAll();
    await db.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
