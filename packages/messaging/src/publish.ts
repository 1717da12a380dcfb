/**
 * The one retry layer of a JetStream publish that is not retried by anything else (the API's
 * `events.publish`, ingest's dead-letter writes). nats.js retries a publish that timed out or
 * found no responder (a stream leader election on a cluster, a reconnect to another node) with
 * its jittered backoff (0, 250, 250, 500, 500, 3000 ms), resending the same headers, so the same
 * `Nats-Msg-Id`: a first attempt that was stored but whose ack was lost is answered as a
 * duplicate, not stored twice, as long as the retries end inside the stream's duplicate window.
 * The outbox relay does not use this: its rows are retried from PostgreSQL with the row id as
 * message id.
 */
export const PUBLISH_RETRY = { retries: 6, timeout: 5_000 } as const;

/** The longest time from the first attempt to the last: every attempt timing out, plus the waits. */
export const PUBLISH_RETRY_HORIZON_MS = PUBLISH_RETRY.retries * PUBLISH_RETRY.timeout + 4_500;
