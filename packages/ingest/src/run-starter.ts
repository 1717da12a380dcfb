import type { EventEnvelope } from '@activity-core/core';
import { signalWindowEvent, startRunActivity } from '@activity-core/workflows';
import type { Client } from '@temporalio/client';

export interface RunStartRequest {
  readonly definitionId: string;
  readonly version: number;
  readonly envelope: EventEnvelope;
}

export interface RunStartResult {
  readonly workflowId: string;
  /** False when a run with this id existed already (a redelivery or a duplicate event). */
  readonly started: boolean;
}

export interface WindowSignalRequest extends RunStartRequest {
  /** The event's window key and its hash. */
  readonly key: string;
  readonly keyHash: string;
}

/** Starts RunActivityWorkflow for one matched definition; IO behind one seam for tests and benchmarks. */
export interface RunStarter {
  start(request: RunStartRequest): Promise<RunStartResult>;
  /** Hands the event to its key's window (windowed definitions): signal-with-start, accepted once resolved. */
  signalWindow(request: WindowSignalRequest): Promise<{ readonly workflowId: string }>;
  /** Resolves when Temporal answers; used to decide when to resume after an outage. */
  probe(): Promise<void>;
}

export interface TemporalRunStarterOptions {
  readonly client: Client;
  readonly taskQueue: string;
  /** Deadline of one start call (including the client's own retries). */
  readonly timeoutMs: number;
}

/**
 * Starts `RunActivityWorkflow` through `startRunActivity` of `@activity-core/workflows`:
 * id `run:{definitionId}:{eventKey}`, trigger `{ kind: 'event', envelope }`, the matched
 * version pinned. Idempotent (`FAIL` + `REJECT_DUPLICATE`, already-started = success): a
 * redelivered or duplicate event resolves with `started: false` and starts nothing. Windowed
 * definitions go through `signalWindowEvent` (`window:{definitionId}:{keyHash}`) instead.
 */
export function createTemporalRunStarter(options: TemporalRunStarterOptions): RunStarter {
  const { client, taskQueue, timeoutMs } = options;
  return {
    async start({ definitionId, version, envelope }) {
      return client.connection.withDeadline(Date.now() + timeoutMs, () =>
        startRunActivity(client, { taskQueue, input: { definitionId, version, trigger: { kind: 'event', envelope } } }),
      );
    },
    async signalWindow({ definitionId, version, envelope, key, keyHash }) {
      return client.connection.withDeadline(Date.now() + timeoutMs, () =>
        signalWindowEvent(client, { taskQueue, definitionId, version, key, keyHash, envelope }),
      );
    },
    async probe() {
      await client.connection.withDeadline(Date.now() + Math.min(timeoutMs, 2000), () =>
        client.connection.workflowService.describeNamespace({ namespace: client.options.namespace }),
      );
    },
  };
}

// gRPC status codes that mean "try again later": CANCELLED, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE.
const TRANSIENT_GRPC = new Set([1, 4, 8, 10, 13, 14]);
const TRANSIENT_NET =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|socket hang up|Connection terminated|timeout/i;

/**
 * True when an error means a dependency (Temporal, PostgreSQL) is unreachable or overloaded,
 * as opposed to refusing this particular request. Walks the `cause` chain.
 */
export function isUnavailableError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current; depth++) {
    if (typeof current === 'object') {
      const code = (current as { code?: unknown }).code;
      if (typeof code === 'number' && TRANSIENT_GRPC.has(code)) return true;
      if (typeof code === 'string' && TRANSIENT_NET.test(code)) return true;
      const message = (current as { message?: unknown }).message;
      if (typeof message === 'string' && TRANSIENT_NET.test(message)) return true;
      current = (current as { cause?: unknown }).cause;
    } else {
      return false;
    }
  }
  return false;
}
