// How long `npm start` takes to be ready, stage by stage, on a fresh data folder and on one
// that already holds a few thousand runs (the restart a user makes every morning).
//
//   node bench/start-times.ts [--runs 3000] [--reps 3] [--data-dir DIR]
//
// First starts (each on a new folder) are the baseline; then the runs are made through the
// real path (events on NATS → ingest → Temporal → worker → PostgreSQL), and the system is
// restarted `reps` times on that folder. Each stage is what the start command itself prints:
// each server until it answers, the migrations, each service until its /readyz is 200
// (measured from when the services were spawned), and the whole start. Beside the times: the
// CPU seconds each process had used when the system was ready, which says who was busy.
// `--data-dir` keeps the loaded folder (and loads it only up to `--runs`), for repeated runs.
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDb } from '@activity-core/db';
import { type StartCommand, spawnStartCommand } from '@activity-core/stack';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { sql } from 'kysely';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3000' },
    reps: { type: 'string', default: '3' },
    'data-dir': { type: 'string' },
  },
});
const runs = Number(values.runs);
const reps = Number(values.reps);
const STAGES = ['nats-server', 'postgres', 'temporal', 'migrations', 'api', 'ingest', 'worker', 'ready', 'stop'];
const ROLES = ['nats-server', 'postgres', 'temporal', 'api', 'ingest', 'worker'];

interface Sample {
  readonly stages: Map<string, number>;
  readonly cpu: Map<string, number>;
}

const CLOCK_TICKS = 100;

/** CPU seconds used so far by each server (with its child processes) and service under `root`. */
function cpuByRole(root: number): Map<string, number> {
  const procs: Array<{ pid: number; ppid: number; cmd: string; cpu: number }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      procs.push({ pid: Number(entry), ppid: Number(fields[1]), cmd, cpu: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone
    }
  }
  const role = (cmd: string): string | undefined =>
    /services\/(\w+)\/src\/main\.ts/.exec(cmd)?.[1] ??
    (cmd.includes('nats-server') ? 'nats-server' : undefined) ??
    (cmd.includes('temporal server start-dev') ? 'temporal' : undefined) ??
    (/bin\/postgres /.test(cmd) ? 'postgres' : undefined);
  const out = new Map<string, number>();
  const walk = (pid: number, inherited: string | undefined): void => {
    for (const p of procs.filter((q) => q.ppid === pid)) {
      const r = role(p.cmd) ?? inherited;
      if (r) out.set(r, (out.get(r) ?? 0) + p.cpu / CLOCK_TICKS);
      walk(p.pid, r);
    }
  };
  walk(root, undefined);
  return out;
}

async function startOnce(dataDir: string): Promise<{ command: StartCommand; sample: Sample }> {
  const command = spawnStartCommand({ dataDir, env: { LOG_LEVEL: 'warn' } });
  await command.ready(600_000);
  const stages = new Map<string, number>();
  for (const { text, atMs } of command.lines) {
    const stage = /^\[activity-core\] (\S+) (?:ready on|done)\b.*\((\d+) ms\)$/.exec(text);
    if (stage) stages.set(stage[1] === 'migrations' ? 'migrations' : (stage[1] as string), Number(stage[2]));
    if (/^\[activity-core\] ready in /.test(text)) stages.set('ready', atMs);
  }
  const cpu = cpuByRole(command.child.pid as number);
  return { command, sample: { stages, cpu } };
}

async function stop(command: StartCommand, sample: Sample): Promise<void> {
  const t0 = performance.now();
  command.child.kill('SIGINT');
  const { code } = await command.exited;
  if (code !== 0) throw new Error(`the start command exited with ${code} on SIGINT:\n${command.output()}`);
  sample.stages.set('stop', performance.now() - t0);
}

async function count(db: ReturnType<typeof createDb>): Promise<{ tasks: number; open: number }> {
  const row = (
    await sql<{ tasks: string; open: string }>`
      select (select count(*) from task_instances) as tasks,
             (select count(*) from runs where status in ('pending', 'running')) as open`.execute(db)
  ).rows[0];
  return { tasks: Number(row?.tasks), open: Number(row?.open) };
}

/** Makes `target` runs (each spawning one open task) through NATS, unless the folder has them. */
async function load(dataDir: string, target: number): Promise<void> {
  const { command } = await startOnce(dataDir);
  try {
    const summary = await command.ready();
    const db = createDb({ url: summary.get('PostgreSQL') as string, poolMax: 1 });
    const have = (await count(db)).tasks;
    if (have < target) {
      const token = readFileSync(/^in (\S+)$/.exec(summary.get('API token') ?? '')?.[1] as string, 'utf8').trim();
      const key = `bench-${Date.now()}`;
      const response = await fetch(`${summary.get('API (tRPC)')}/definitions.create`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          spec: {
            key,
            name: 'Start-time bench',
            trigger: { kind: 'event', event: { types: [`${key}.created`] } },
            taskTemplates: [{ key: 'review', title: 'Review {{ event.data.n }}' }],
          },
        }),
      });
      if (!response.ok) throw new Error(`definitions.create: ${response.status} ${await response.text()}`);
      const nc = await connect({ servers: summary.get('NATS') as string });
      const js = jetstream(nc);
      const t0 = performance.now();
      const n = target - have;
      for (let i = 0; i < n; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, n - i) }, (_, j) =>
            js.publish(`events.${key}.created`, JSON.stringify({ n: i + j }), { msgID: `${key}-${i + j}` }),
          ),
        );
      }
      await nc.close();
      let last = 0;
      for (;;) {
        const now = await count(db);
        if (now.tasks >= target && now.open === 0) break;
        if (performance.now() - last > 30_000) {
          last = performance.now();
          process.stdout.write(`  loading: ${now.tasks}/${target} tasks, ${now.open} runs still open\n`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      process.stdout.write(`loaded ${n} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
    await db.destroy();
  } finally {
    command.child.kill('SIGINT');
    await command.exited;
  }
}

function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? Number.NaN, median: s[Math.floor(s.length / 2)] ?? Number.NaN, max: s.at(-1) ?? Number.NaN };
}

function table(first: Sample[], again: Sample[]): string {
  const fmt = (v: { min: number; median: number; max: number }, unit: (n: number) => string): string =>
    `${unit(v.median)} (${unit(v.min)}–${unit(v.max)})`.padEnd(26);
  const ms = (n: number): string => `${(n / 1000).toFixed(1)} s`;
  const cpu = (n: number): string => `${n.toFixed(1)} s`;
  const lines = [
    `${'stage'.padEnd(14)}${'first start: median (min–max)'.padEnd(32)}${'restart: median (min–max)'.padEnd(28)}restart / first`,
  ];
  for (const stage of STAGES) {
    const a = stats(first.map((s) => s.stages.get(stage) ?? Number.NaN));
    const b = stats(again.map((s) => s.stages.get(stage) ?? Number.NaN));
    lines.push(
      `${stage.padEnd(14)}${fmt(a, ms).padEnd(32)}${fmt(b, ms).padEnd(28)}${(b.median / a.median).toFixed(2)}`,
    );
  }
  lines.push('', 'CPU seconds used by each process when the system was ready');
  for (const role of ROLES) {
    const a = stats(first.map((s) => s.cpu.get(role) ?? 0));
    const b = stats(again.map((s) => s.cpu.get(role) ?? 0));
    lines.push(
      `${role.padEnd(14)}${fmt(a, cpu).padEnd(32)}${fmt(b, cpu).padEnd(28)}${(b.median / a.median).toFixed(2)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const first: Sample[] = [];
for (let i = 0; i < reps; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'ac-bench-first-'));
  chmodSync(dir, 0o755);
  try {
    const { command, sample } = await startOnce(dir);
    await stop(command, sample);
    first.push(sample);
    process.stdout.write(`first start ${i + 1}: ready in ${((sample.stages.get('ready') ?? 0) / 1000).toFixed(1)} s\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const keep = values['data-dir'];
const loaded = keep ?? mkdtempSync(join(tmpdir(), 'ac-bench-loaded-'));
chmodSync(loaded, 0o755);
try {
  if (!existsSync(join(loaded, 'postgres')) || runs > 0) await load(loaded, runs);
  const again: Sample[] = [];
  for (let i = 0; i < reps; i++) {
    const { command, sample } = await startOnce(loaded);
    await stop(command, sample);
    again.push(sample);
    process.stdout.write(`restart ${i + 1}: ready in ${((sample.stages.get('ready') ?? 0) / 1000).toFixed(1)} s\n`);
  }
  process.stdout.write(
    `\nnpm start on a fresh data folder (${reps}×) and restarted on one with ${runs} runs (${reps}×); ${readFileSync('/proc/loadavg', 'utf8').trim()} (load average at the end)\n`,
  );
  process.stdout.write(table(first, again));
} finally {
  if (!keep) rmSync(loaded, { recursive: true, force: true });
}
