// The end-to-end fault soak on a clustered JetStream (issue 18), the full count, run by hand:
//   node bench/cluster-soak.ts [events=3000] [rate=10 events/s]
// A 3-node NATS cluster with R3 streams, Temporal dev server and PostgreSQL; 2 ingest and 2
// worker processes (the real services); N events plus ~5 % duplicates while the node leading
// AC_EVENTS is SIGKILLed, another is stopped for 30 s, and an ingest and a worker are SIGKILLed.
// The soak itself is test/support/cluster-soak.ts, shared with the smaller run in `npm test`
// (test/e2e/cluster-soak.test.ts). It prints the exact accounting and exits 1 when any count is off.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNatsCluster } from '@activity-core/stack';
import { runClusterSoak } from '../test/support/cluster-soak.ts';
import { onInterrupt, runBench } from './support.ts';

const EVENTS = Number(process.argv[2] ?? 3000);
const RATE = Number(process.argv[3] ?? 10);
if (!Number.isInteger(EVENTS) || EVENTS < 100)
  throw new Error(`events: a whole number >= 100 (got ${process.argv[2]})`);
if (!(RATE > 0)) throw new Error(`rate: events per second > 0 (got ${process.argv[3]})`);

const dir = mkdtempSync(join(tmpdir(), 'ac-cluster-soak-'));
const t0 = performance.now();
const say = (line: string): void => {
  process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
};

say(`data and logs in ${dir}`);
const cluster = await startNatsCluster({ dir: join(dir, 'nats'), size: 3 });
say(`nats cluster up: ${cluster.url}`);
onInterrupt(() => cluster.stop());

await runBench(
  async (stack) => {
    try {
      const result = await runClusterSoak({
        events: EVENTS,
        rate: RATE,
        dir,
        cluster,
        databaseUrl: stack.databaseUrl,
        temporalAddress: stack.temporalAddress,
        temporalNamespace: stack.temporalNamespace,
        prefix: 'SOAK',
        taskQueue: 'soak-runs',
        say,
        // A loaded machine, a worker's activities timing out: generous.
        serviceStartMs: 180_000,
        quiesceMs: 20 * 60_000,
        publishRounds: 5,
        lateWatchMs: 35_000,
      });
      process.stdout.write(`\n${result.report}\n`);
      writeFileSync(join(dir, 'result.txt'), `${result.report}\n`);
      return result.exact;
    } finally {
      await cluster.stop();
    }
  },
  { external: { natsUrl: cluster.url } },
);
