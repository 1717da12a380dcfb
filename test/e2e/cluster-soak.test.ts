// The cluster fault soak inside `npm test` (issue 18), a few hundred events: a 3-node NATS
// cluster with R3 streams and consumer, 2 ingest and 2 worker processes over the shared test
// stack's Temporal and PostgreSQL, ~5 % duplicates, while (a) the node leading AC_EVENTS is
// SIGKILLed and restarted, (b) another node is stopped for 30 s, (c) an ingest and a worker are
// SIGKILLed and restarted. Then the exact accounting. The same soak at thousands of events is
// `node bench/cluster-soak.ts`; both run test/support/cluster-soak.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expect, test } from 'vitest';
import { runClusterSoak } from '../support/cluster-soak.ts';
import { startTestNatsCluster } from '../support/nats-cluster.ts';
import { createTestDatabase, stackInfo, uniqueId } from '../support/stack.ts';
import { outlasting, PROCESS_START_MS } from '../support/wait.ts';

const EVENTS = 120;
/** Publishes per second: the 126 publishes take 63 s; the fault timeline (~85 s) runs on into the backlog. */
const RATE = 2;
/** From the end of publishing until every run, task and task event is there. */
const QUIESCE_MS = 240_000;
/** Set-up: the cluster, the workflow bundle, four services (twice over for the restarted two). */
const SETUP_MS = 3 * PROCESS_START_MS;
const PUBLISH_MS = ((EVENTS + Math.floor(EVENTS / 19)) / RATE) * 1000;

test(
  `${EVENTS} events and 5 % duplicates across a leader SIGKILL, a node down 30 s and a service SIGKILL: exact`,
  async () => {
    const info = stackInfo();
    await using cluster = await startTestNatsCluster(3);
    await using database = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'ac-cluster-soak-test-'));
    const t0 = performance.now();
    const say = (line: string) =>
      console.log(`[cluster-soak ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
    try {
      const result = await runClusterSoak({
        events: EVENTS,
        rate: RATE,
        dir,
        cluster,
        databaseUrl: database.url,
        temporalAddress: info.temporalAddress,
        temporalNamespace: info.temporalNamespace,
        prefix: uniqueId('S'),
        taskQueue: uniqueId('soak-'),
        say,
        serviceStartMs: PROCESS_START_MS,
        quiesceMs: QUIESCE_MS,
        // A publish that outlives one 30 s retry horizon is a failure here, not tried again.
        publishRounds: 1,
      });
      console.log(result.report);
      const n = result.counts;
      expect(result.problems).toEqual([]);
      expect(n.runs).toBe(n.expectedRuns);
      expect(n.succeededRuns).toBe(n.expectedRuns);
      expect(n.taskRows).toBe(n.expectedTasks);
      expect(n.taskCreated).toBe(n.expectedTasks);
      expect(n.distinctTaskCreated).toBe(n.expectedTasks);
      expect(n.storedPublishes).toBe(n.events + n.duplicates);
      expect(n.duplicates).toBeGreaterThan(0);
      expect(n.deadLetters).toBe(0);
      expect(n.outboxUnsent).toBe(0);
      // Every fault step ran, in order.
      expect(result.faults.map((f) => f.slice(f.indexOf('(')))).toEqual([
        expect.stringMatching(/^\(a\) SIGKILL /),
        expect.stringMatching(/^\(a\) restarting /),
        expect.stringMatching(/^\(a\) .* back$/),
        expect.stringMatching(/^\(a\) every replica/),
        expect.stringMatching(/^\(b\) stopping /),
        expect.stringMatching(/^\(b\) starting /),
        expect.stringMatching(/^\(b\) .* back$/),
        expect.stringMatching(/^\(b\) every replica/),
        expect.stringMatching(/^\(c\) SIGKILL /),
        expect.stringMatching(/^\(c\) restarting /),
        expect.stringMatching(/^\(c\) .* ready$/),
      ]);
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      say(`logs kept in ${dir}`);
      throw error;
    }
  },
  outlasting(SETUP_MS, PUBLISH_MS, 3 * 180_000, QUIESCE_MS),
);
