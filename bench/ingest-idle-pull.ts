// What a shorter pull `expires` costs ingest at idle (issue 18):
//   node bench/ingest-idle-pull.ts [seconds per rep=20] [reps=3]
// An idle durable consumer on AC_EVENTS (single nats-server, nothing published), consumed the
// way ingest's loop does it (`consume({ max_messages, expires })`) for a while, with nats.js'
// default expires (30 s, the baseline) and ingest's default (AC_INGEST_PULL_EXPIRES_MS, 5 s),
// reps interleaved. Per rep: messages and bytes the client exchanged (pull requests out;
// heartbeats and 408 expiries in), client CPU and nats-server CPU. Prints min/median/max and
// the ratio to the baseline's median.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PULL_EXPIRES_MS, ensureIngestConsumer } from '@activity-core/ingest';
import { ensureStreams, topology } from '@activity-core/messaging';
import { freePort, startNats } from '@activity-core/stack';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const SECONDS = Number(process.argv[2] ?? 20);
const REPS = Number(process.argv[3] ?? 3);
if (!(SECONDS >= 5)) throw new Error(`seconds per rep: at least 5 (got ${process.argv[2]})`);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`reps: a whole number >= 1 (got ${process.argv[3]})`);
const BASELINE_MS = 30_000;
const SETTINGS = [BASELINE_MS, DEFAULT_PULL_EXPIRES_MS];
/** clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux). */
const TICKS = 100;

function serverCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'ac-idle-pull-'));
const nats = await startNats({ dir, port: await freePort(), monitorPort: await freePort() });
const serverPid = nats.process.pid;
if (serverPid === undefined) throw new Error('nats-server has no pid');
interface Sample {
  readonly msgsOut: number;
  readonly msgsIn: number;
  readonly bytes: number;
  readonly clientCpuMs: number;
  readonly serverCpuMs: number;
}
const samples = new Map<number, Sample[]>(SETTINGS.map((s) => [s, []]));
try {
  const admin = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(admin);
  const t = topology('IDLE');
  await ensureStreams(jsm, t);
  await ensureIngestConsumer(jsm, t, {
    name: 'ac-ingest',
    ackWaitMs: 30_000,
    maxDeliver: 20,
    maxBackoffMs: 300_000,
    maxAckPending: 1000,
  });
  for (let rep = 0; rep < REPS; rep++) {
    for (const expires of rep % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) {
      const nc = await connect({ servers: nats.url });
      const consumer = await jetstream(nc).consumers.get(t.events.stream, 'ac-ingest');
      const messages = await consumer.consume({ max_messages: 64, expires });
      const drained = (async () => {
        for await (const m of messages) m.ack();
      })();
      const before = { stats: { ...nc.stats() }, cpu: process.cpuUsage(), server: serverCpuMs(serverPid) };
      await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
      const stats = nc.stats();
      const cpu = process.cpuUsage(before.cpu);
      const sample: Sample = {
        msgsOut: stats.outMsgs - before.stats.outMsgs,
        msgsIn: stats.inMsgs - before.stats.inMsgs,
        bytes: stats.outBytes - before.stats.outBytes + stats.inBytes - before.stats.inBytes,
        clientCpuMs: (cpu.user + cpu.system) / 1000,
        serverCpuMs: serverCpuMs(serverPid) - before.server,
      };
      samples.get(expires)?.push(sample);
      messages.stop();
      await drained;
      await nc.close();
      process.stdout.write(`rep ${rep + 1} expires ${expires} ms: ${JSON.stringify(sample)}\n`);
    }
  }
  await admin.close();
} finally {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s[Math.floor(s.length / 2)] ?? 0, max: s[s.length - 1] ?? 0 };
};
process.stdout.write(
  `\nidle consume() for ${SECONDS} s per rep, ${REPS} reps per setting (per rep: min / median / max)\n`,
);
const baseline = samples.get(BASELINE_MS) ?? [];
for (const key of ['msgsOut', 'msgsIn', 'bytes', 'clientCpuMs', 'serverCpuMs'] as const) {
  const base = stat(baseline.map((s) => s[key])).median;
  for (const expires of SETTINGS) {
    const m = stat((samples.get(expires) ?? []).map((s) => s[key]));
    const ratio = base > 0 ? ` (x${(m.median / base).toFixed(2)} of expires ${BASELINE_MS})` : '';
    process.stdout.write(
      `  ${key.padEnd(12)} expires ${String(expires).padStart(5)} ms: ${m.min.toFixed(1)} / ${m.median.toFixed(1)} / ${m.max.toFixed(1)}${ratio}\n`,
    );
  }
}
process.exit(0);
