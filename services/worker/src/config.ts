import {
  envList,
  parseServiceConfig,
  portSchema,
  positiveIntSchema,
  type ServiceConfig,
  SharedEnv,
} from '@activity-core/runtime';
import { z } from 'zod';

/** Default of `AC_WORKER_MAX_CACHED_WORKFLOWS`. */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

export const WorkerConfigSchema = z.object({
  ...SharedEnv,
  /** Port of the worker's /healthz, /readyz and /metrics. */
  AC_WORKER_PORT: portSchema.default(3002),
  /** Hosts `http` context sources may call: `api.example.com`, `host:port`, `*.example.com`; comma-separated. */
  AC_HTTP_ALLOWED_HOSTS: envList,
  /** CloudEvents `source` of the task events the worker emits. */
  AC_EVENT_SOURCE: z.string().min(1).default('urn:activity-core'),
  /** Outbox relay: rows per claim, lease, idle poll interval and retry backoff bounds. */
  AC_OUTBOX_BATCH_SIZE: positiveIntSchema.default(100),
  AC_OUTBOX_LEASE_MS: positiveIntSchema.default(30_000),
  AC_OUTBOX_POLL_MS: positiveIntSchema.default(500),
  AC_OUTBOX_RETRY_BASE_MS: positiveIntSchema.default(1_000),
  AC_OUTBOX_RETRY_MAX_MS: positiveIntSchema.default(60_000),
  /** Published outbox rows are deleted this long after their publish (at most 10 years); 0 keeps them for good. */
  AC_OUTBOX_RETENTION_MS: z.coerce.number().int().min(0).max(315_360_000_000).default(86_400_000),
  /** On SIGTERM/SIGINT: running activities get this long to finish before they are cancelled. */
  AC_WORKER_SHUTDOWN_GRACE_MS: positiveIntSchema.default(10_000),
  /**
   * On SIGTERM/SIGINT: the Temporal worker stops this long after the signal whatever still runs
   * (a local activity retrying a failure included); Temporal retries it on another worker.
   */
  AC_WORKER_SHUTDOWN_FORCE_MS: positiveIntSchema.default(15_000),
  /** Activities this worker runs at once (Temporal's default when unset). */
  AC_WORKER_MAX_CONCURRENT_ACTIVITIES: positiveIntSchema.optional(),
  /**
   * Workflow executions kept in the worker's sticky cache. Open tasks do not accumulate in it:
   * an open TaskInstanceWorkflow waits for days, so past this many it is evicted and replayed
   * from its (short) history when an update or its timer wakes it. Temporal's own default grows
   * with the heap (thousands on a large machine). Much smaller than the runs in flight costs
   * replays of whole run histories (1.5 MB for a 1,000-task fan-out); most of the worker's
   * memory is V8's young generation (`--max-semi-space-size`, docs/production.md "Memory").
   */
  AC_WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(DEFAULT_MAX_CACHED_WORKFLOWS),
  /** Workflow tasks this worker runs at once (Temporal's default when unset). */
  AC_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveIntSchema.optional(),
  /**
   * `host:port` where the Temporal SDK's own exporter serves its worker metrics (workflow tasks,
   * sticky cache, local activities, poll latencies) at `/metrics`. They are on the worker's own
   * /metrics either way; unset, the exporter binds a free loopback port only the worker reads.
   */
  AC_WORKER_CORE_METRICS_ADDRESS: z.string().min(1).optional(),
  /** Full pass of the schedule reconciler (cron definitions ↔ Temporal Schedules). */
  AC_SCHEDULE_RECONCILE_INTERVAL_MS: positiveIntSchema.default(60_000),
  /** A workflow bundle built ahead (`node services/worker/src/build-workflow-bundle.ts`); bundled at start when unset. */
  AC_WORKFLOW_BUNDLE: z.string().min(1).optional(),
});
export type WorkerConfig = ServiceConfig<typeof WorkerConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return parseServiceConfig(WorkerConfigSchema, env);
}
