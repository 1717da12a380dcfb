import type { NatsConnection, Status } from '@nats-io/transport-node';

/** The part of the runtime logger the connection watcher needs. */
export interface StatusLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What one connection event is worth logging as, if anything: an outage is one `disconnect`
 * line and one `reconnect` line (with how long it lasted), however many reconnect attempts and
 * publishes fall in between; a server entering lame-duck mode (a rolling restart) is one line.
 */
export function describeStatus(
  status: Status,
  disconnectedAt: number | undefined,
  now: number,
): { level: 'info' | 'warn'; message: string; fields: Record<string, unknown> } | undefined {
  switch (status.type) {
    case 'disconnect':
      return { level: 'warn', message: 'NATS connection lost; reconnecting', fields: { server: status.server } };
    case 'reconnect':
      return {
        level: 'info',
        message: 'NATS connection restored',
        fields: {
          server: status.server,
          ...(disconnectedAt !== undefined ? { downMs: now - disconnectedAt } : {}),
        },
      };
    case 'ldm':
      return {
        level: 'info',
        message: 'NATS server is shutting down (lame duck); moving on',
        fields: { server: status.server },
      };
    default:
      return undefined;
  }
}

/** Logs the connection's outages, once each (see {@link describeStatus}), until it closes. */
export function watchConnection(nc: NatsConnection, logger: StatusLogger): void {
  let disconnectedAt: number | undefined;
  void (async () => {
    for await (const status of nc.status()) {
      const line = describeStatus(status, disconnectedAt, Date.now());
      if (status.type === 'disconnect') disconnectedAt ??= Date.now();
      if (status.type === 'reconnect') disconnectedAt = undefined;
      if (line) logger[line.level](line.message, line.fields);
    }
  })();
}
