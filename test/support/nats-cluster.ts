import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectNats,
  DEFAULT_STREAM_LIMITS,
  isRetryablePublishError,
  type StreamLimits,
  watchConnection,
} from '@activity-core/messaging';
import { type NatsClusterNode, type RunningNatsCluster, startNatsCluster } from '@activity-core/stack';
import {
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WAIT_MS, waitFor } from './wait.ts';

/** The default stream limits with three replicas: what the cluster tests and the soak run on. */
export const R3_STREAM_LIMITS: StreamLimits = { ...DEFAULT_STREAM_LIMITS, replicas: 3 };

export interface ClusterClient {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
}

/**
 * A client of `cluster` as the services connect (`connectNats`, reconnecting across node
 * faults), whose connection lines (lost, restored) go to `log`; closing `nc` is the caller's.
 */
export async function connectToCluster(
  cluster: Pick<RunningNatsCluster, 'url'>,
  name: string,
  log: (line: string) => void,
): Promise<ClusterClient> {
  const nc = await connectNats({ url: cluster.url, name });
  watchConnection(nc, { info: log, warn: log });
  try {
    return { nc, jsm: await jetstreamManager(nc), js: jetstream(nc) };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

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
