import {
  type ApiDeps,
  answerClientErrors,
  createApiDeps,
  createApiHandler,
  createTokenBucketLimiter,
  type DefinitionChange,
  type RedriveInput,
  type RedriveResult,
} from '@activity-core/api';
import { createDb } from '@activity-core/db';
import { connectMessaging, topology } from '@activity-core/messaging';
import {
  createLogger,
  expressionLimits,
  type Logger,
  startOpsServer,
  startTracing,
  startUnwinding,
} from '@activity-core/runtime';
import { DEFAULT_SCHEDULE_SETTINGS } from '@activity-core/schedules';
import { Client, Connection } from '@temporalio/client';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { ApiConfig } from './config.ts';

export interface StartApiOptions {
  readonly logger?: Logger;
  /** Schedule reconciliation (the cron side). Default: no-op. */
  readonly onDefinitionChanged?: (definitionId: string, change: DefinitionChange) => Promise<void>;
  readonly redriveDeadLetters?: (input: RedriveInput) => Promise<RedriveResult>;
}

export interface ApiService {
  readonly port: number;
  readonly deps: ApiDeps;
  /** Stops taking requests, lets in-flight ones finish, then closes the connections. */
  stop(): Promise<void>;
}

/**
 * The API process without the process: connects PostgreSQL, NATS and Temporal, makes sure the
 * streams exist, and serves /trpc beside /healthz, /readyz and /metrics. `main.ts` runs it;
 * tests start it in-process on port 0.
 */
export async function startApiService(config: Readonly<ApiConfig>, options: StartApiOptions = {}): Promise<ApiService> {
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, base: { service: 'api' } });
  return startUnwinding(logger, async ({ own }) => {
    // OTEL_* variables only; off (no span code on the request path) without an endpoint.
    const tracing = own('tracing', await startTracing('activity-core-api'), (t) => t.shutdown());
    // Loaded only with tracing on.
    const otel = tracing.enabled ? await import('@temporalio/interceptors-opentelemetry') : undefined;
    const db = own(
      'database pool',
      createDb(
        { url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: 'activity-core-api' },
        { onPoolError: (error) => logger.warn('idle database connection failed', { error }) },
      ),
      (pool) => pool.destroy(),
    );
    const t = topology(config.AC_STREAM_PREFIX);
    const { nc } = own('nats', await connectMessaging(config, 'activity-core-api', logger, t), (m) => m.nc.close());
    const connection = own('temporal', await Connection.connect(config.temporal.connection), (c) => c.close());
    const temporal = new Client({
      connection,
      namespace: config.temporal.namespace,
      // A procedure's updates, signals and starts carry its trace into the workflows.
      ...(otel ? { interceptors: { workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] } } : {}),
    });

    const deps = createApiDeps({
      db,
      nc,
      temporal,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      topology: t,
      logger,
      ...(tracing.enabled ? { tracer: tracing.tracer } : {}),
      bootstrapToken: config.AC_API_TOKEN,
      scheduleSettings: {
        ...DEFAULT_SCHEDULE_SETTINGS,
        catchupWindowMs: config.AC_SCHEDULE_CATCHUP_WINDOW_MS,
        scheduleIdPrefix: config.AC_SCHEDULE_ID_PREFIX,
      },
      expressionLimits: expressionLimits(config),
      eventSettings: {
        defaultSource: config.AC_INGEST_DEFAULT_SOURCE,
        maxPayloadBytes: config.AC_INGEST_MAX_PAYLOAD_BYTES,
        maxCausationDepth: config.AC_MAX_CAUSATION_DEPTH,
      },
      rateLimiter: createTokenBucketLimiter({
        ratePerSecond: config.AC_API_RATE_LIMIT_RPS,
        burst: config.AC_API_RATE_LIMIT_BURST,
      }),
      ...(options.onDefinitionChanged ? { onDefinitionChanged: options.onDefinitionChanged } : {}),
      ...(options.redriveDeadLetters ? { redriveDeadLetters: options.redriveDeadLetters } : {}),
    });
    const handler = createApiHandler({
      deps,
      maxBodyBytes: config.AC_API_MAX_BODY_BYTES,
      corsOrigins: config.AC_API_CORS_ORIGINS,
      ...(tracing.enabled ? { tracer: tracing.tracer } : {}),
    });

    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics });
    const duration = new Histogram({
      name: 'ac_api_request_duration_seconds',
      help: 'HTTP requests to /trpc by status code',
      labelNames: ['status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [metrics],
    });

    const ops = own(
      'ops server',
      await startOpsServer({
        port: config.AC_API_PORT,
        host: config.AC_API_HOST,
        maxHeaderBytes: config.AC_API_MAX_HEADER_BYTES,
        metrics,
        readiness: {
          postgres: async () => void (await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute()),
          nats: () => nc.flush(),
          temporal: async () =>
            void (await connection.workflowService.describeNamespace({ namespace: config.temporal.namespace })),
        },
        fallback: (req, res) => {
          const end = duration.startTimer();
          res.once('finish', () => end({ status: String(res.statusCode) }));
          handler(req, res);
        },
      }),
      (server) => server.close(),
    );
    answerClientErrors(ops.server, { maxHeaderBytes: config.AC_API_MAX_HEADER_BYTES });
    logger.info('api ready', {
      port: ops.port,
      trpc: `http://${config.AC_API_HOST}:${ops.port}/trpc`,
      tracing: tracing.enabled,
    });

    let stopping: Promise<void> | undefined;
    return {
      port: ops.port,
      deps,
      stop: () => {
        stopping ??= (async () => {
          await ops.close();
          await nc.drain();
          await connection.close();
          await db.destroy();
          await tracing.shutdown();
        })();
        return stopping;
      },
    };
  });
}
