import { createDb } from '@activity-core/db';
import {
  createIngestMetrics,
  createIngestPipeline,
  createTemporalRunStarter,
  DefinitionIndex,
  ensureIngestConsumer,
  type IngestMetrics,
  type IngestPipeline,
} from '@activity-core/ingest';
import { connectMessaging, topology } from '@activity-core/messaging';
import {
  createLogger,
  expressionLimits,
  type Logger,
  registerScrapedGauges,
  startOpsServer,
  startTracing,
  startUnwinding,
} from '@activity-core/runtime';
import { Client, Connection } from '@temporalio/client';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { IngestConfig } from './config.ts';

export interface StartIngestOptions {
  readonly logger?: Logger;
}

export interface IngestService {
  /** Port of /healthz, /readyz and /metrics. */
  readonly port: number;
  readonly pipeline: IngestPipeline;
  readonly index: DefinitionIndex;
  readonly metrics: IngestMetrics;
  readonly registry: Registry;
  /** Stops consuming (in-flight messages finish, up to the shutdown timeout), then closes the connections. */
  stop(): Promise<void>;
}

/**
 * The ingest process without the process: connects PostgreSQL, NATS and Temporal, makes sure
 * the streams and the durable consumer exist, loads the definition index, consumes AC_EVENTS
 * and serves /healthz, /readyz and /metrics. `main.ts` runs it; tests and benchmarks start it
 * in-process on port 0.
 */
export async function startIngestService(
  config: Readonly<IngestConfig>,
  options: StartIngestOptions = {},
): Promise<IngestService> {
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, base: { service: 'ingest' } });
  return startUnwinding(logger, async ({ own }) => {
    // OTEL_* variables only; off (nothing installed, no span code on the hot path) without an endpoint.
    const tracing = own('tracing', await startTracing('activity-core-ingest'), (t) => t.shutdown());
    // Loaded only with tracing on: with it off ingest does not load the OTel SDK at all.
    const otel = tracing.enabled ? await import('@temporalio/interceptors-opentelemetry') : undefined;
    const t = topology(config.AC_STREAM_PREFIX);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const metrics = createIngestMetrics(registry);

    const db = own(
      'database pool',
      createDb(
        { url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: 'activity-core-ingest' },
        { onPoolError: (error) => logger.warn('idle database connection failed', { error }) },
      ),
      (pool) => pool.destroy(),
    );
    const { nc, jsm } = own('nats', await connectMessaging(config, 'activity-core-ingest', logger, t), (m) =>
      m.nc.close(),
    );
    await ensureIngestConsumer(jsm, t, {
      name: config.AC_INGEST_CONSUMER,
      ackWaitMs: config.AC_INGEST_ACK_WAIT_MS,
      maxDeliver: config.AC_INGEST_MAX_DELIVER,
      maxBackoffMs: config.AC_INGEST_MAX_BACKOFF_MS,
      maxAckPending: config.AC_INGEST_MAX_ACK_PENDING,
      replicas: config.AC_STREAM_REPLICAS,
    });
    // Lazy: the service comes up (and reports unready) while Temporal is still starting.
    const temporal = own('temporal', Connection.lazy(config.temporal.connection), (c) => c.close());
    const client = new Client({
      connection: temporal,
      namespace: config.temporal.namespace,
      // The run's trace context travels in the start/signal headers (StartWorkflow spans).
      ...(otel ? { interceptors: { workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] } } : {}),
    });

    const limits = expressionLimits(config);
    const index = own(
      'definition index',
      new DefinitionIndex({
        db,
        databaseUrl: config.DATABASE_URL,
        logger,
        metrics,
        expressionLimits: limits,
        refreshIntervalMs: config.AC_INGEST_REFRESH_INTERVAL_MS,
      }),
      (i) => i.close(),
    );
    // Never consume before the first load: an empty index would ack events as unmatched.
    for (let attempt = 1; ; attempt++) {
      try {
        await index.start();
        break;
      } catch (error) {
        logger.warn('cannot load definitions yet; retrying', { attempt, error });
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 5000)));
      }
    }

    const pipeline = createIngestPipeline(
      {
        nc,
        topology: t,
        definitions: index,
        starter: createTemporalRunStarter({
          client,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          timeoutMs: config.AC_INGEST_START_TIMEOUT_MS,
        }),
        logger,
        metrics,
        ...(tracing.enabled ? { tracer: tracing.tracer } : {}),
      },
      {
        consumer: config.AC_INGEST_CONSUMER,
        maxInFlight: config.AC_INGEST_MAX_IN_FLIGHT,
        maxDeliver: config.AC_INGEST_MAX_DELIVER,
        maxCausationDepth: config.AC_MAX_CAUSATION_DEPTH,
        maxPayloadBytes: config.AC_INGEST_MAX_PAYLOAD_BYTES,
        inputLimits: limits.input,
        defaultSource: config.AC_INGEST_DEFAULT_SOURCE,
        nakDelayMs: config.AC_INGEST_NAK_DELAY_MS,
        nakMaxDelayMs: config.AC_INGEST_NAK_MAX_DELAY_MS,
        pullExpiresMs: config.AC_INGEST_PULL_EXPIRES_MS,
        ...(config.AC_INGEST_CRASH_AFTER_START
          ? {
              afterStarts: (message) => {
                logger.warn('AC_INGEST_CRASH_AFTER_START: killing the process before the ack', { seq: message.seq });
                process.kill(process.pid, 'SIGKILL');
              },
            }
          : {}),
      },
    );
    own('ingest pipeline', pipeline, (p) => p.stop(config.AC_INGEST_SHUTDOWN_TIMEOUT_MS));
    await pipeline.start();
    // The consumer's backlog as the server counts it, for all ingest replicas together.
    registerScrapedGauges({
      registry,
      logger,
      what: 'ingest consumer info',
      read: () => jsm.consumers.info(t.events.stream, config.AC_INGEST_CONSUMER),
      gauges: {
        ac_ingest_consumer_pending: {
          help: 'Events in the stream not yet delivered to ingest (consumer lag, all replicas)',
          value: (info) => info.num_pending,
        },
        ac_ingest_consumer_ack_pending: {
          help: 'Events delivered to ingest and not yet acked (all replicas)',
          value: (info) => info.num_ack_pending,
        },
        ac_ingest_consumer_redelivered: {
          help: 'Events delivered more than once and not yet acked (all replicas)',
          value: (info) => info.num_redelivered,
        },
      },
    });

    const ops = own(
      'ops server',
      await startOpsServer({
        port: config.AC_INGEST_PORT,
        metrics: registry,
        readiness: {
          postgres: async () => void (await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute()),
          nats: () => nc.flush(),
          temporal: async () =>
            void (await temporal.workflowService.describeNamespace({ namespace: config.temporal.namespace })),
          // Ready when the index can catch up with the latest definition writes.
          definitions: () => index.catchUp(index.ticket()),
        },
      }),
      (server) => server.close(),
    );
    logger.info('ingest ready', {
      port: ops.port,
      stream: t.events.stream,
      consumer: config.AC_INGEST_CONSUMER,
      definitions: index.size,
      tracing: tracing.enabled,
    });

    let stopping: Promise<void> | undefined;
    return {
      port: ops.port,
      pipeline,
      index,
      metrics,
      registry,
      stop: () => {
        stopping ??= (async () => {
          await pipeline.stop(config.AC_INGEST_SHUTDOWN_TIMEOUT_MS);
          await index.close();
          await ops.close();
          await nc.drain();
          await temporal.close();
          await db.destroy();
          await tracing.shutdown();
        })();
        return stopping;
      },
    };
  });
}
