import { DEFAULT_PULL_EXPIRES_MS } from '@activity-core/ingest';
import {
  envBoolean,
  parseServiceConfig,
  portSchema,
  positiveIntSchema,
  type ServiceConfig,
  SharedEnv,
} from '@activity-core/runtime';
import { z } from 'zod';

export const IngestConfigSchema = z.object({
  ...SharedEnv,
  /** Port of the ingest service's /healthz, /readyz and /metrics. */
  AC_INGEST_PORT: portSchema.default(3001),
  /** Durable pull consumer on AC_EVENTS shared by all ingest replicas. */
  AC_INGEST_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .default('ac-ingest'),
  /** Messages processed at once by one process (and its pull batch size). */
  AC_INGEST_MAX_IN_FLIGHT: positiveIntSchema.default(64),
  /** Unacked messages across all replicas (the consumer's max_ack_pending). */
  AC_INGEST_MAX_ACK_PENDING: positiveIntSchema.default(1000),
  /** Ack wait before the first redelivery of an unacked message; doubles per redelivery. */
  AC_INGEST_ACK_WAIT_MS: positiveIntSchema.default(30_000),
  AC_INGEST_MAX_BACKOFF_MS: positiveIntSchema.default(300_000),
  /** Deliveries before a message is dead-lettered with reason max_deliveries. */
  AC_INGEST_MAX_DELIVER: positiveIntSchema.min(2).default(20),
  /** Delay before redelivery after a failed start; doubles per delivery up to the max. */
  AC_INGEST_NAK_DELAY_MS: positiveIntSchema.default(1000),
  AC_INGEST_NAK_MAX_DELAY_MS: positiveIntSchema.default(60_000),
  /**
   * How long one pull request waits on the server (its idle heartbeat is half of it). Also
   * about how long ingest stalls when the consumer leader moves: nats.js pulls again after two
   * missed heartbeats. At least 1000 (nats.js refuses less).
   */
  AC_INGEST_PULL_EXPIRES_MS: positiveIntSchema.min(1000).default(DEFAULT_PULL_EXPIRES_MS),
  /** Deadline of one RunActivityWorkflow start. */
  AC_INGEST_START_TIMEOUT_MS: positiveIntSchema.default(10_000),
  /** Larger messages are dead-lettered with payload_too_large. */
  AC_INGEST_MAX_PAYLOAD_BYTES: positiveIntSchema.default(256 * 1024),
  /** CloudEvents `source` of plain JSON events. */
  AC_INGEST_DEFAULT_SOURCE: z.string().min(1).default('urn:activity-core:nats'),
  /**
   * Full rebuild of the definition index, a safety net: changes arrive incrementally before
   * every pull batch is matched (and sooner through LISTEN/NOTIFY).
   */
  AC_INGEST_REFRESH_INTERVAL_MS: positiveIntSchema.default(300_000),
  AC_INGEST_SHUTDOWN_TIMEOUT_MS: positiveIntSchema.default(30_000),
  /** Events whose causation depth reaches this are dead-lettered with max_depth. */
  AC_MAX_CAUSATION_DEPTH: positiveIntSchema.default(8),
  /**
   * TEST ONLY: kill the process with SIGKILL right after a message's starts were accepted and
   * before its ack, to prove redelivery does not start a second run. Never set in production.
   */
  AC_INGEST_CRASH_AFTER_START: envBoolean.default(false),
});
export type IngestConfig = ServiceConfig<typeof IngestConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  return parseServiceConfig(IngestConfigSchema, env);
}
