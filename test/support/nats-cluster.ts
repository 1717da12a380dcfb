import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRetryablePublishError } from '@activity-core/messaging';
import { type NatsClusterNode, type RunningNatsCluster, startNatsCluster } from '@activity-core/stack';
import type { ConsumerInfo, JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { WAIT_MS, waitFor } from './wait.ts';

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

/** A consumer's info, or `undefined` while an election is on (see {@link streamInfoOrNotYet}). */
export function consumerInfoOrNotYet(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<ConsumerInfo | undefined> {
  return jsm.consumers.info(stream, consumer).catch((error: unknown) => {
    if (isRetryablePublishError(error)) return undefined;
    throw error;
  });
}

/** The node of `cluster` that leads `stream` now, once an election is over and it runs. */
export function leaderOf(
  jsm: JetStreamManager,
  cluster: RunningNatsCluster,
  stream: string,
  timeoutMs = WAIT_MS,
): Promise<NatsClusterNode> {
  return waitFor(
    async () => {
      const leader = (await streamInfoOrNotYet(jsm, stream))?.cluster?.leader;
      const node = cluster.nodes.find((n) => n.name === leader);
      return node?.running ? node : undefined;
    },
    { what: `a running leader of ${stream}`, timeoutMs, intervalMs: 250 },
  );
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
    leaderOf: (jsm, stream) => leaderOf(jsm, cluster, stream),
  };
}
