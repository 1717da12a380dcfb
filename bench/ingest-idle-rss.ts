// Ingest's resident memory at idle (issue 14's target: ≤ 150 MB):
//   node bench/ingest-idle-rss.ts [--reps 3] [--idle 20] [--definitions 1] [--node-flags="--flag ..."]
// Starts its own stack, then per rep a fresh ingest process (`node services/ingest/src/main.ts`,
// as production and bench/pipeline.ts run it) with one event definition, waits until it is ready
// and `--idle` seconds more with nothing published, and reads its VmRSS (with RssAnon / RssFile)
// from /proc and its V8 heap and external memory from its /metrics. Prints min/median/max of the
// reps and the load average beside each reading. glibc's MALLOC_ARENA_MAX is passed on when set.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { freePort } from '@activity-core/stack';
import { loadAverage } from './pipeline/proc-stats.ts';
import { runBench, spawnBenchProcess } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    idle: { type: 'string', default: '20' },
    definitions: { type: 'string', default: '1' },
    'node-flags': { type: 'string', default: '' },
  },
});
const REPS = Number(opts.reps);
const IDLE_S = Number(opts.idle);
const DEFINITIONS = Number(opts.definitions);
const NODE_FLAGS = String(opts['node-flags']).split(' ').filter(Boolean);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`--reps: a whole number >= 1 (got ${opts.reps})`);
if (!(IDLE_S >= 0)) throw new Error(`--idle: seconds >= 0 (got ${opts.idle})`);

const script = fileURLToPath(new URL('../services/ingest/src/main.ts', import.meta.url));
const out = (line = '') => process.stdout.write(`${line}\n`);

/** `VmRSS`, `RssAnon` and `RssFile` of /proc/<pid>/status, MB. */
function statusMb(pid: number): { rss: number; anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

/** A gauge of a Prometheus text page (first series), or NaN. */
function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

await runBench(async (stack) => {
  const db = createDb({ url: stack.databaseUrl, poolMax: 2 });
  try {
    await migrateToLatest(db);
    for (let i = 0; i < DEFINITIONS; i++) {
      await createDefinition(db, {
        spec: ActivityDefinitionSpec.parse({
          key: `idle-${i}`,
          name: `Idle ${i}`,
          trigger: { kind: 'event', event: { types: [`bench.idle.${i}`], filter: 'event.data.n > 0' } },
          taskTemplates: [{ key: 'task', title: 'Task {{ event.data.n }}' }],
        }),
      });
    }
  } finally {
    await db.destroy();
  }
  out(
    `ingest idle RSS: ${REPS} reps, ${IDLE_S} s idle after ready, ${DEFINITIONS} definition(s), node flags: ${NODE_FLAGS.join(' ') || 'none'}, MALLOC_ARENA_MAX ${process.env.MALLOC_ARENA_MAX ?? 'unset'}`,
  );
  const readings: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const port = await freePort();
    const ingest = await spawnBenchProcess(
      'ingest',
      script,
      {
        DATABASE_URL: stack.databaseUrl,
        NATS_URL: stack.natsUrl,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_NAMESPACE: stack.temporalNamespace,
        TEMPORAL_TASK_QUEUE: 'bench-idle',
        AC_INGEST_PORT: String(port),
        LOG_LEVEL: 'info',
        ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
      },
      /"ingest ready"/,
      { nodeFlags: NODE_FLAGS },
    );
    try {
      await new Promise((r) => setTimeout(r, IDLE_S * 1000));
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      const mem = statusMb(ingest.pid);
      readings.push(mem.rss);
      const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
      out(
        `rep ${rep + 1}: VmRSS ${mem.rss.toFixed(1)} MB (anon ${mem.anon.toFixed(1)}, file ${mem.file.toFixed(1)}); ` +
          `V8 heap used ${mb(gauge(metrics, 'nodejs_heap_size_used_bytes'))} / total ${mb(gauge(metrics, 'nodejs_heap_size_total_bytes'))} MB, ` +
          `external ${mb(gauge(metrics, 'nodejs_external_memory_bytes'))} MB (load ${loadAverage()})`,
      );
    } finally {
      await ingest.stop();
    }
  }
  const s = [...readings].sort((a, b) => a - b);
  const at = (q: number) => (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN).toFixed(1);
  out(`ingest idle VmRSS (MB) min/median/max: ${at(0)}/${at(0.5)}/${at(1)} (target ≤ 150; load ${loadAverage()})`);
  return true;
});
