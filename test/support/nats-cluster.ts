import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRetryablePublishError } from '@activity-core/messaging';
import { type NatsClusterNode, type RunningNatsCluster, startNatsCluster } from '@activity-core/stack';
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { waitFor } from './wait.ts';

/**
 * A stream's info, or `undefined` while an election is on: the request then times out or
 * finds no leader, which a condition wait must poll past (as the publishers retry it), not
 * fail on. Any other error is a failure.
 */
export function streamInfoOrNotYet(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  return jsm.streams.info(stream).catch((error: unknown) => {
    if (isRetryablePublishError(error)) return undefined;
    throw error;
  });
}

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
          const info = await streamInfoOrNotYet(jsm, stream);
          const leader = info?.cluster?.leader;
          const node = cluster.nodes.find((n) => n.name === leader);
          return node?.running ? node : undefined;
        },
        { what: `a leader of ${stream}` },
      );
    },
  };
}
