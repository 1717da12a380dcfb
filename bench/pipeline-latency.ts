// Where publish → tasks.created goes, stage by stage, for the product and for baseline (b) of
// bench/pipeline.ts (NATS → a minimal consumer → a parent that starts one child whose one local
// activity publishes), at one paced rate, on the same servers and processes as that bench.
//
//   node bench/pipeline-latency.ts [--reps 3] [--rate 20] [--seconds 3]
//
// Every system runs in alternating blocks of `rate` one-task events per second for `seconds`.
// After each block the bench reads, per event: its own publish / JetStream ack / receive times,
// the Temporal histories of the runs (event times are the server's clock; local-activity markers
// carry the worker's schedule and completion times) and, for the product, the outbox row
// (`created_at` is the writing transaction's start; the claim time is `next_attempt_at` minus the
// lease; `published_at` is the mark after the acks). All processes run on this machine, so the
// clocks are comparable to about a millisecond. Each stage prints p50/p95 over the block's events,
// then min/median/max over the reps; the stages of one system add up to its total per event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureStreams, topology } from '@activity-core/messaging';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { loadAverage } from './pipeline/proc-stats.ts';
import { preparePipeline } from './pipeline/setup.ts';
import { type BenchProcess, onInterrupt, runBench, spawnBenchProcess } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '3' },
  },
});
const REPS = Number(opts.reps);
const RATE = Number(opts.rate);
const SECONDS = Number(opts.seconds);
/** The relay's claim lease (its default): the claim time is `next_attempt_at` minus it. */
const RELAY_LEASE_MS = 30_000;

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line = '') => process.stdout.write(`${line}\n`);
/** Wall-clock milliseconds with the monotonic clock's fraction. */
const nowMs = () => performance.timeOrigin + performance.now();

type SystemName = 'product' | 'b';
const SYSTEMS: SystemName[] = ['product', 'b'];
const LABEL: Record<SystemName, string> = { product: 'activity-core', b: '(b) child + LA' };

/** What the bench saw of one event. */
interface Seen {
  sent: number;
  acked?: number;
  received?: number;
  body?: Record<string, unknown>;
}

/** A history event's type, server time (ms) and, for local-activity markers, the worker's times. */
interface Event {
  type: string;
  at: number;
  marker?: { activity: string; scheduled: number; completed: number };
}

/** Stage name → ms, per event. */
type Stages = Record<string, number>;

const tsMs = (t: unknown): number => {
  if (t === null || t === undefined) return Number.NaN;
  if (typeof t === 'string') return Date.parse(t);
  const { seconds, nanos } = t as { seconds?: unknown; nanos?: number };
  return Number(seconds ?? 0) * 1000 + (nanos ?? 0) / 1e6;
};

async function history(client: Client, workflowId: string): Promise<Event[]> {
  const h = await client.workflow.getHandle(workflowId).fetchHistory();
  return (h.events ?? []).map((e) => {
    const type = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e]) ?? '';
    const event: Event = { type: type.replace(/EventAttributes$/, ''), at: tsMs(e.eventTime) };
    const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    if (payload) {
      // sdk-core's LocalActivityMarkerData, JSON.
      const data = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
      event.marker = {
        activity: String(data.activity_type ?? ''),
        scheduled: tsMs(data.original_schedule_time),
        completed: tsMs(data.complete_time),
      };
    }
    return event;
  });
}

const nth = (events: Event[], type: string, n = 0): Event | undefined => events.filter((e) => e.type === type)[n];
const at = (e: Event | undefined) => e?.at ?? Number.NaN;

function pct(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

await runBench(async (stack) => {
  const work = mkdtempSync(join(tmpdir(), 'ac-bench-latency-'));
  const loadAtStart = loadAverage();
  const { productBundle, baselineBundle, db, env: common, tuning } = await preparePipeline(stack, work);

  const product = topology('');
  const base = topology('BASE');
  const spawned: BenchProcess[] = [];
  const stopAll = async () => {
    for (const p of spawned.splice(0)) await p.stop();
  };
  onInterrupt(stopAll);
  const spawnProc = async (name: string, script: string, env: Record<string, string>, ready: RegExp) => {
    const p = await spawnBenchProcess(name, join(root, script), env, ready, { echo: /"level":"(error|warn)"|Error/ });
    spawned.push(p);
    return p;
  };
  await spawnProc(
    'worker',
    'services/worker/src/main.ts',
    {
      ...common,
      TEMPORAL_TASK_QUEUE: 'bench-product',
      AC_WORKER_PORT: '0',
      AC_WORKFLOW_BUNDLE: productBundle,
      LOG_LEVEL: 'info',
    },
    /"worker ready"/,
  );
  await spawnProc(
    'ingest',
    'services/ingest/src/main.ts',
    { ...common, TEMPORAL_TASK_QUEUE: 'bench-product', AC_INGEST_PORT: '0', LOG_LEVEL: 'info' },
    /"ingest ready"/,
  );
  await spawnProc(
    'baseline-worker',
    'bench/pipeline/baseline-worker.ts',
    {
      ...common,
      TEMPORAL_TASK_QUEUE: 'bench-baseline',
      AC_STREAM_PREFIX: 'BASE',
      BENCH_BASELINE_BUNDLE: baselineBundle,
    },
    /baseline worker ready/,
  );
  await spawnProc(
    'baseline-ingest',
    'bench/pipeline/baseline-ingest.ts',
    { ...common, TEMPORAL_TASK_QUEUE: 'bench-baseline', AC_STREAM_PREFIX: 'BASE' },
    /baseline ingest ready/,
  );

  try {
    const nc = await connect({ servers: stack.natsUrl });
    const js = jetstream(nc);
    await ensureStreams(await jetstreamManager(nc), product);
    await ensureStreams(await jetstreamManager(nc), base);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection, namespace: stack.temporalNamespace });

    const seen = new Map<string, Seen>();
    let arrived: (() => void) | undefined;
    const subscribe = (subject: string, eventIdOf: (body: Record<string, unknown>) => unknown) => {
      const sub = nc.subscribe(subject);
      void (async () => {
        for await (const m of sub) {
          const received = nowMs();
          const body = m.json<Record<string, unknown>>();
          const s = seen.get(String(eventIdOf(body)));
          if (s && s.received === undefined) {
            s.received = received;
            s.body = body;
            arrived?.();
          }
        }
      })();
    };
    subscribe(`${product.tasks.subjectPrefix}created.>`, (body) => body.causationid);
    subscribe(`${base.tasks.subjectPrefix}created.>`, (body) => body.eventId);

    let seq = 0;
    /** `RATE` one-task events per second for `SECONDS`; resolves with their ids once every task arrived. */
    const block = async (system: SystemName): Promise<string[]> => {
      const n = Math.round(RATE * SECONDS);
      const ids: string[] = [];
      const acks: Promise<void>[] = [];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const wait = t0 + (i * 1000) / RATE - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const id = `${system}-${seq++}`;
        const subject =
          system === 'product'
            ? `${product.events.subjectPrefix}bench.pipeline`
            : `${base.events.subjectPrefix}baseline.b`;
        const s: Seen = { sent: nowMs() };
        seen.set(id, s);
        ids.push(id);
        acks.push(
          js
            .publish(subject, JSON.stringify(system === 'product' ? { n: seq } : { tasks: 1 }), { msgID: id })
            .then(() => {
              s.acked = nowMs();
            }),
        );
      }
      await Promise.all(acks);
      const deadline = Date.now() + 120_000;
      while (ids.some((id) => seen.get(id)?.received === undefined)) {
        if (Date.now() > deadline) throw new Error(`${system}: tasks.created missing after 120 s`);
        await new Promise<void>((resolve) => {
          arrived = resolve;
          setTimeout(resolve, 500);
        });
      }
      // Let the runs finish (their histories end) before they are read.
      await new Promise((r) => setTimeout(r, 1500));
      return ids;
    };

    const productStages = async (id: string): Promise<Stages> => {
      const s = seen.get(id) as Seen;
      const body = s.body as { id: string; data: { runId: string } };
      const run = await db
        .selectFrom('runs')
        .select('workflow_id')
        .where('id', '=', body.data.runId)
        .executeTakeFirstOrThrow();
      const row = await db
        .selectFrom('outbox')
        .select(['created_at', 'next_attempt_at', 'published_at', 'attempts'])
        .where('id', '=', body.id)
        .executeTakeFirstOrThrow();
      const h = await history(client, run.workflow_id);
      const wt1 = at(nth(h, 'workflowTaskStarted'));
      const wt2 = at(nth(h, 'workflowTaskStarted', 1));
      // A local activity's marker: `scheduled` is the worker's clock when core scheduled it;
      // `completed` is the workflow's time (its task's start) plus the activity's runtime.
      const begin = h.find((e) => e.marker?.activity === 'beginRun')?.marker;
      const write = h.find((e) => e.marker?.activity === 'writeTasks')?.marker;
      const beginRuntime = (begin?.completed ?? Number.NaN) - wt1;
      // A row its writer handed to the relay is published without a claim (attempts stays 0).
      const claimed = row.attempts > 0 ? row.next_attempt_at.getTime() - RELAY_LEASE_MS : Number.NaN;
      const received = s.received as number;
      return {
        'publish → JetStream ack': (s.acked as number) - s.sent,
        'ack → workflow started (ingest)': at(nth(h, 'workflowExecutionStarted')) - (s.acked as number),
        'started → WT1 started': wt1 - at(nth(h, 'workflowExecutionStarted')),
        'WT1 started → beginRun scheduled': (begin?.scheduled ?? Number.NaN) - wt1,
        'beginRun (LA runtime)': beginRuntime,
        'beginRun done → WT1 completed':
          at(nth(h, 'workflowTaskCompleted')) - ((begin?.scheduled ?? Number.NaN) + beginRuntime),
        'WT1 completed → child started':
          at(nth(h, 'childWorkflowExecutionStarted')) - at(nth(h, 'workflowTaskCompleted')),
        'child started → WT2 started': wt2 - at(nth(h, 'childWorkflowExecutionStarted')),
        'WT2 started → writeTasks scheduled': (write?.scheduled ?? Number.NaN) - wt2,
        'writeTasks scheduled → tx start': row.created_at.getTime() - (write?.scheduled ?? Number.NaN),
        'tx start → received (tx, relay, NATS)': received - row.created_at.getTime(),
        total: received - s.sent,
        '(tx start → relay claim, claimed rows)': claimed - row.created_at.getTime(),
        '(relay claim → received, claimed rows)': received - claimed,
        '(rows published without a claim, %)': row.attempts === 0 ? 100 : 0,
        '(writeTasks LA runtime)': (write?.completed ?? Number.NaN) - wt2,
        '(received → marked published)': (row.published_at?.getTime() ?? Number.NaN) - received,
      };
    };

    const baselineStages = async (id: string): Promise<Stages> => {
      const s = seen.get(id) as Seen;
      const parent = await history(client, `baseline:${id}`);
      const child = await history(client, `baseline:${id}:task:0`);
      const publish = child.find((e) => e.marker?.activity === 'publishTask')?.marker;
      const received = s.received as number;
      return {
        'publish → JetStream ack': (s.acked as number) - s.sent,
        'ack → workflow started (ingest)': at(nth(parent, 'workflowExecutionStarted')) - (s.acked as number),
        'started → WT1 started': at(nth(parent, 'workflowTaskStarted')) - at(nth(parent, 'workflowExecutionStarted')),
        'WT1 started → WT1 completed':
          at(nth(parent, 'workflowTaskCompleted')) - at(nth(parent, 'workflowTaskStarted')),
        'WT1 completed → child started':
          at(nth(parent, 'childWorkflowExecutionStarted')) - at(nth(parent, 'workflowTaskCompleted')),
        'child started → child WT1 started':
          at(nth(child, 'workflowTaskStarted')) - at(nth(parent, 'childWorkflowExecutionStarted')),
        'child WT1 started → publish LA scheduled':
          (publish?.scheduled ?? Number.NaN) - at(nth(child, 'workflowTaskStarted')),
        'publish LA scheduled → received': received - (publish?.scheduled ?? Number.NaN),
        total: received - s.sent,
      };
    };

    // Warm-up: connections, caches, JIT.
    for (const system of SYSTEMS) await block(system);

    /** Per system, per stage: one [p50, p95] per rep. */
    const results: Record<SystemName, Map<string, Array<[number, number]>>> = { product: new Map(), b: new Map() };
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
      for (const system of order) {
        const ids = await block(system);
        const stages = await Promise.all(
          ids.map((id) => (system === 'product' ? productStages(id) : baselineStages(id))),
        );
        for (const name of Object.keys(stages[0] ?? {})) {
          const sorted = stages
            .map((x) => x[name] as number)
            .filter(Number.isFinite)
            .sort((a, b) => a - b);
          const list = results[system].get(name) ?? [];
          list.push([pct(sorted, 0.5), pct(sorted, 0.95)]);
          results[system].set(name, list);
        }
        const total = results[system].get('total')?.at(-1);
        out(
          `rep ${rep + 1} ${LABEL[system].padEnd(16)} p50 ${total?.[0].toFixed(0)} ms, p95 ${total?.[1].toFixed(0)} ms (load ${loadAverage()})`,
        );
      }
    }

    const mmm = (xs: number[], digits = 1) => {
      const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
      const f = (q: number) => pct(s, q).toFixed(digits);
      return s.length === 0 ? '–' : `${f(0)}/${f(0.5)}/${f(1)}`;
    };
    out();
    out(
      `publish → tasks.created by stage: ${REPS} reps of ${RATE} ev/s for ${SECONDS} s per system; ms, min/median/max over the reps`,
    );
    out(`load at start ${loadAtStart}, at end ${loadAverage()}`);
    out(`worker tuning: ${Object.keys(tuning).length > 0 ? JSON.stringify(tuning) : 'defaults'}`);
    for (const system of SYSTEMS) {
      out();
      out(`${LABEL[system].padEnd(44)}${'p50'.padEnd(22)}p95`);
      for (const [name, list] of results[system]) {
        out(`  ${name.padEnd(42)}${mmm(list.map((x) => x[0])).padEnd(22)}${mmm(list.map((x) => x[1]))}`);
      }
    }
    const p50 = (s: SystemName) => results[s].get('total')?.map((x) => x[0]) ?? [];
    const ratios = p50('product').map((x, i) => x / (p50('b')[i] ?? Number.NaN));
    out();
    out(`product p50 / (b) p50, per rep: ${mmm(ratios, 2)}`);

    await nc.close();
    await connection.close();
    return true;
  } finally {
    await stopAll();
    await db.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
