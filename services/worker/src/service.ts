import { readFile } from 'node:fs/promises';
import type { ContextResolverRegistry } from '@activity-core/activities';
import { migrateToLatest } from '@activity-core/db';
import { connectMessaging, topology } from '@activity-core/messaging';
import {
  createLogger,
  expressionLimits,
  type Logger,
  secretValuesFrom,
  startOpsServer,
  startTracing,
  startUnwinding,
} from '@activity-core/runtime';
import { DEFAULT_SCHEDULE_SETTINGS, startScheduleSync } from '@activity-core/schedules';
import { bundleWorkflows, TRACING_BUNDLE_MARKER } from '@activity-core/workflows/worker';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { Registry } from 'prom-client';
import type { WorkerConfig } from './config.ts';
import { createWorkerDb } from './database.ts';
import { createScheduleMetrics, registerWorkerMetrics } from './metrics.ts';
import { readSdkMetrics } from './sdk-metrics.ts';
import { workerTuning } from './tuning.ts';
import { type RunningWorker, startWorker } from './worker.ts';

export interface StartWorkerServiceOptions {
  readonly logger?: Logger;
  /** Resolvers of `custom` context sources, by name. */
  readonly resolvers?: ContextResolverRegistry;
  /** Where `AC_SECRET_*` values of http sources come from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Where this process's Temporal runtime serves the SDK's metrics (`installTemporalRuntime`
   * with `sdkPrometheusExporter`): read at each scrape and served on /metrics after ours.
   */
  readonly sdkMetricsAddress?: string;
}

export interface WorkerService {
  /** Port of /healthz, /readyz and /metrics. */
  readonly port: number;
  readonly worker: RunningWorker;
  /** Settles when the Temporal worker stops (rejects if it crashed). */
  readonly done: Promise<void>;
  /** Stops the schedule sync, drains the Temporal worker and the relay, then closes the connections. */
  stop(): Promise<void>;
}

/**
 * The worker process without the process: loads (or bundles) the workflow code, migrates the
 * database, makes sure the streams exist, runs the Temporal worker with the activities and the
 * outbox relay, keeps the Schedules in sync and serves /healthz, /readyz and /metrics.
 * `main.ts` runs it.
 */
export async function startWorkerService(
  config: Readonly<WorkerConfig>,
  options: StartWorkerServiceOptions = {},
): Promise<WorkerService> {
  const logger =
    options.logger ??
    createLogger({
      level: config.LOG_LEVEL,
      base: { service: 'worker' },
      // The http sources' AC_SECRET_* values come from options.env when a caller passes one.
      secrets: secretValuesFrom({ ...process.env, ...options.env }),
    });
  return startUnwinding(logger, async ({ own }) => {
    // OTEL_* variables only; off (nothing installed, the bundle without the tracing interceptors) without an endpoint.
    const tracing = own('tracing', await startTracing('activity-core-worker'), (t) => t.shutdown());
    const t0 = Date.now();
    const workflowBundle: WorkflowBundle = config.AC_WORKFLOW_BUNDLE
      ? { code: await readFile(config.AC_WORKFLOW_BUNDLE, 'utf8') }
      : await bundleWorkflows({ tracing: tracing.enabled });
    const bundleTraces = workflowBundle.code.includes(TRACING_BUNDLE_MARKER);
    logger.info('workflow code loaded', {
      ms: Date.now() - t0,
      from: config.AC_WORKFLOW_BUNDLE ?? 'bundled at start',
      kib: Math.round(workflowBundle.code.length / 1024),
      tracing: tracing.enabled,
    });
    if (bundleTraces !== tracing.enabled) {
      logger.warn(
        tracing.enabled
          ? 'tracing is on but AC_WORKFLOW_BUNDLE has no tracing interceptors: workflows will make no spans; build it with the same OTEL_* variables'
          : 'AC_WORKFLOW_BUNDLE has the tracing interceptors but tracing is off: workflow spans are dropped; build it without OTEL_* variables',
        { bundle: config.AC_WORKFLOW_BUNDLE },
      );
    }
    const db = own(
      'database pool',
      createWorkerDb(
        { url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: 'activity-core-worker' },
        (error) => logger.warn('database connection lost', { error: error.message }),
      ),
      (pool) => pool.destroy(),
    );
    // Safe beside other services doing the same: migrations run under an advisory lock.
    await migrateToLatest(db);
    const topo = topology(config.AC_STREAM_PREFIX);
    const { nc } = own('nats', await connectMessaging(config, 'activity-core-worker', logger, topo), (m) =>
      m.nc.close(),
    );
    const connection = own(
      'temporal worker connection',
      await NativeConnection.connect(config.temporal.connection),
      (c) => c.close(),
    );
    const metrics = new Registry();
    registerWorkerMetrics(metrics, db, logger);
    const running = own(
      'temporal worker',
      await startWorker({
        connection,
        namespace: config.temporal.namespace,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        workflowBundle,
        db,
        nc,
        topology: topo,
        logger,
        http: { allowedHosts: config.AC_HTTP_ALLOWED_HOSTS, env: options.env ?? process.env },
        ...(options.resolvers ? { resolvers: options.resolvers } : {}),
        eventSource: config.AC_EVENT_SOURCE,
        expressionLimits: expressionLimits(config),
        relay: {
          batchSize: config.AC_OUTBOX_BATCH_SIZE,
          leaseMs: config.AC_OUTBOX_LEASE_MS,
          pollIntervalMs: config.AC_OUTBOX_POLL_MS,
          baseDelayMs: config.AC_OUTBOX_RETRY_BASE_MS,
          maxDelayMs: config.AC_OUTBOX_RETRY_MAX_MS,
        },
        pruner: { retentionMs: config.AC_OUTBOX_RETENTION_MS },
        metrics,
        tracing,
        shutdownGraceMs: config.AC_WORKER_SHUTDOWN_GRACE_MS,
        shutdownForceMs: config.AC_WORKER_SHUTDOWN_FORCE_MS,
        ...workerTuning(config),
      }),
      (r) => r.shutdown(),
    );
    const clientConnection = own('temporal client connection', Connection.lazy(config.temporal.connection), (c) =>
      c.close(),
    );
    const schedules = own(
      'schedule sync',
      await startScheduleSync({
        client: new Client({ connection: clientConnection, namespace: config.temporal.namespace }),
        db,
        databaseUrl: config.DATABASE_URL,
        settings: {
          ...DEFAULT_SCHEDULE_SETTINGS,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          catchupWindowMs: config.AC_SCHEDULE_CATCHUP_WINDOW_MS,
          scheduleIdPrefix: config.AC_SCHEDULE_ID_PREFIX,
        },
        intervalMs: config.AC_SCHEDULE_RECONCILE_INTERVAL_MS,
        logger,
        onOutcome: createScheduleMetrics(metrics),
      }),
      (s) => s.stop(),
    );
    const ops = own(
      'ops server',
      await startOpsServer({
        port: config.AC_WORKER_PORT,
        metrics,
        ...(options.sdkMetricsAddress ? { moreMetrics: readSdkMetrics(options.sdkMetricsAddress, logger) } : {}),
        readiness: {
          worker: async () => {
            const state = running.worker.getState();
            if (state !== 'RUNNING') throw new Error(`temporal worker is ${state}`);
          },
          postgres: async () => void (await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute()),
          nats: () => nc.flush(),
          schedules: () => schedules.ready(),
        },
      }),
      (server) => server.close(),
    );
    logger.info('worker ready', {
      port: ops.port,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      prefix: config.AC_STREAM_PREFIX,
      temporal: { address: config.temporal.address, namespace: config.temporal.namespace, ...config.temporal.security },
    });

    let stopping: Promise<void> | undefined;
    return {
      port: ops.port,
      worker: running,
      done: running.done,
      stop: () => {
        stopping ??= (async () => {
          await schedules.stop();
          await running.shutdown();
          await ops.close();
          await connection.close();
          await clientConnection.close();
          await nc.drain();
          await db.destroy();
          await tracing.shutdown();
        })();
        return stopping;
      },
    };
  });
}
