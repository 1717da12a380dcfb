import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, type NatsEnv, natsSettingsFrom } from './connect.ts';
import { type StatusLogger, watchConnection } from './status.ts';
import { ensureStreams, type StreamEnv, streamLimitsFrom } from './streams.ts';
import type { Topology } from './topology.ts';

/** A service's NATS side once it has started: the connection, and its JetStream manager. */
export interface MessagingConnection {
  /** The connection (reconnects forever; its outages are logged). The service drains it on stop. */
  readonly nc: NatsConnection;
  /** JetStream's management API on `nc` (streams, consumers, their info). */
  readonly jsm: JetStreamManager;
}

/**
 * The NATS start-up every service does: checks the stream variables (before any server is
 * asked), connects with the configured credentials/TLS under `name` (the server's connection
 * list shows it), logs the connection's outages, and creates or updates the streams of `t`
 * ({@link ensureStreams}, which retries a cluster that is still electing). When a step after
 * the connection fails, the connection is closed before the error is thrown, so a service that
 * cannot start leaves no connection (and no reconnect loop) behind.
 *
 * @example
 * const { nc, jsm } = await connectMessaging(config, 'activity-core-ingest', logger, topology(config.AC_STREAM_PREFIX));
 */
export async function connectMessaging(
  config: NatsEnv & StreamEnv,
  name: string,
  logger: StatusLogger,
  t: Topology,
): Promise<MessagingConnection> {
  const limits = streamLimitsFrom(config);
  const nc = await connectNats(natsSettingsFrom(config, name));
  try {
    watchConnection(nc, logger);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, t, limits);
    return { nc, jsm };
  } catch (error) {
    // The start-up error is what the caller needs; a failing close would only hide it.
    await nc.close().catch(() => undefined);
    throw error;
  }
}
