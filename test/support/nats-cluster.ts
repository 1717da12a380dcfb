import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsClusterNode, type RunningNatsCluster, startNatsCluster } from '@activity-core/stack';
import type { JetStreamManager } from '@nats-io/jetstream';
import { waitFor } from './wait.ts';

export interface TestNatsCluster extends RunningNatsCluster, AsyncDisposable {
  /** The node that leads `stream` now (waits for an election to end). */
  leaderOf(jsm: JetStreamManager, stream: string): Promise<NatsClusterNode>;
}

/**
 * A throw-away 3-node JetStream cluster on loopback (own ports and stores in a temp dir), for
 * the tests that need replicated streams; stopped and removed on dispose
 * (`await using cluster = await startTestNatsCluster()`).
 */
export async function startTestNatsCluster(size = 3): Promise<TestNatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ac-nats-cluster-'));
  const cluster = await startNatsCluster({ dir, size });
  const stop = async (): Promise<void> => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    ...cluster,
    stop,
    [Symbol.asyncDispose]: stop,
    async leaderOf(jsm, stream) {
      return waitFor(
        async () => {
          const leader = (await jsm.streams.info(stream)).cluster?.leader;
          const node = cluster.nodes.find((n) => n.name === leader);
          if (!node?.running) throw new Error(`no running leader yet (${leader ?? 'none'})`);
          return node;
        },
        { what: `a leader of ${stream}` },
      );
    },
  };
}
