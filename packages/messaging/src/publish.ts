import { type BackoffBounds, jitteredBackoffMs } from '@activity-core/core';
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';
import type { Payload } from '@nats-io/transport-node';
import { isTransientJetStreamError } from './jetstream-errors.ts';

export interface PublishRetry extends BackoffBounds {
  /** No new attempt starts after this long from the first. */
  readonly deadlineMs: number;
  /** How long one attempt waits for its PubAck. */
  readonly timeoutMs: number;
}

/**
 * The one retry layer of the publishes nothing else retries (the API's `events.publish`,
 * ingest's dead-letter writes): 30 s of attempts, which outlasts a stream leader election on a
 * cluster (a few seconds of "no responders") and a reconnect to another node.
 */
export const PUBLISH_RETRY: PublishRetry = { deadlineMs: 30_000, timeoutMs: 5_000, baseMs: 100, maxMs: 2_000 };

/**
 * The longest time from a first attempt to the last one's end. A stream's duplicate window must
 * be at least this long: otherwise a first attempt that was stored but whose PubAck was lost,
 * retried after the window, is stored twice.
 */
export const PUBLISH_RETRY_HORIZON_MS = PUBLISH_RETRY.deadlineMs + PUBLISH_RETRY.timeoutMs;

/**
 * Whether a failed publish may be retried: it timed out (maybe stored, maybe not: the same
 * `Nats-Msg-Id` makes the retry safe) or no stream leader answered (an election, a node down).
 * Anything else — a wrong expected stream, a payload too large, a closed connection — is final.
 * Decided on the errors' types and the server's API error codes, never on message text.
 */
export const isRetryablePublishError: (error: unknown) => boolean = isTransientJetStreamError;

export interface PublishRetryHooks {
  /** Called before each retry, with the error that caused it (for a log line). */
  readonly onRetry?: (attempt: number, error: unknown) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/**
 * `js.publish` with retries of timeouts and missing leaders, each with the same `msgID`, so
 * the stream stores the message once however many attempts reach it.
 */
export async function publishRetrying(
  js: Pick<JetStreamClient, 'publish'>,
  subject: string,
  data: Payload,
  options: Partial<JetStreamPublishOptions> & { readonly msgID: string },
  retry: PublishRetry = PUBLISH_RETRY,
  hooks: PublishRetryHooks = {},
): Promise<PubAck> {
  return retryingSetup(
    () => js.publish(subject, data, { ...options, timeout: retry.timeoutMs, retries: 1 }),
    undefined,
    retry,
    hooks,
  );
}

/**
 * The retry layer of JetStream set-up at start (a stream or consumer created or updated to the
 * wanted config): a cluster that has just started, or lost a node, answers API requests with
 * timeouts and missing leaders until its meta leader and the stream's raft group are elected,
 * which on a loaded machine takes longer than one request's 5 s.
 */
export const SETUP_RETRY: Omit<PublishRetry, 'timeoutMs'> = { deadlineMs: 60_000, baseMs: 250, maxMs: 2_000 };

/**
 * Runs an idempotent JetStream step (create-or-update to a wanted config, a publish with a
 * message id) again while it fails with what {@link isRetryablePublishError} calls retryable, for `retry.deadlineMs`;
 * `retryable` picks the error to judge (e.g. the cause of a wrapping error). Anything else, or
 * the deadline, throws the last error.
 */
export async function retryingSetup<T>(
  step: () => Promise<T>,
  retryable: (error: unknown) => unknown = (error) => error,
  retry: Omit<PublishRetry, 'timeoutMs'> = SETUP_RETRY,
  hooks: PublishRetryHooks = {},
): Promise<T> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!isRetryablePublishError(retryable(error))) throw error;
      const delay = jitteredBackoffMs(attempt, retry);
      if (now() - started + delay > retry.deadlineMs) throw error;
      hooks.onRetry?.(attempt, error);
      await sleep(delay);
    }
  }
}
