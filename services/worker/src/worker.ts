import { type ContextResolverRegistry, createActivities, type HttpSourceSettings } from '@activity-core/activities';
import type { ExpressionLimits } from '@activity-core/core';
import type { Database } from '@activity-core/db';
import type { Topology } from '@activity-core/messaging';
import {
  type OutboxPrunerOptions,
  type OutboxRelay,
  type OutboxRelayOptions,
  startOutboxPruner,
  startOutboxRelay,
} from '@activity-core/outbox-relay';
import type { Logger, Tracing } from '@activity-core/runtime';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { createRunMetrics } from './metrics.ts';

export interface StartWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly workflowBundle: WorkflowBundle;
  readonly db: Kysely<Database>;
  readonly nc: NatsConnection;
  readonly topology: Topology;
  readonly logger: Logger;
  readonly http: HttpSourceSettings;
  readonly resolvers?: ContextResolverRegistry;
  readonly eventSource?: string;
  /**
   * CEL budget and input limits (AC_CEL_*, AC_INPUT_*; the input limits also bound context
   * source values); default: the core's defaults.
   */
  readonly expressionLimits?: ExpressionLimits;
  readonly relay?: Omit<OutboxRelayOptions, 'db' | 'js' | 'logger' | 'metrics'>;
  /** Deleting published outbox rows after a retention; absent (or retention 0): kept for good. */
  readonly pruner?: Omit<OutboxPrunerOptions, 'db' | 'logger' | 'metrics'>;
  readonly metrics?: Registry;
  /**
   * Tracing on: activities run under spans continued from their workflow's headers, the
   * workflow spans made in the sandbox are exported through the `exporter` sink, and the relay
   * makes a publish span per row. The workflow bundle must then carry the tracing interceptors
   * (`bundleWorkflows({ tracing: true })`).
   */
  readonly tracing?: Tracing;
  /** Worker tuning passed through (e.g. `maxCachedWorkflows: 0` to force replays in tests). */
  readonly maxCachedWorkflows?: number;
  readonly maxConcurrentActivityTaskExecutions?: number;
  readonly maxConcurrentWorkflowTaskExecutions?: number;
  /**
   * On shutdown, how long running activities may go on before they are cancelled
   * (default {@link DEFAULT_SHUTDOWN_GRACE_MS}), and when the Temporal worker stops whatever
   * still runs, retrying local activities included (default {@link DEFAULT_SHUTDOWN_FORCE_MS}).
   * Whatever was cut off is retried by Temporal on another worker.
   */
  readonly shutdownGraceMs?: number;
  readonly shutdownForceMs?: number;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const DEFAULT_SHUTDOWN_FORCE_MS = 15_000;

export interface RunningWorker {
  readonly worker: Worker;
  readonly relay: OutboxRelay;
  /** Settles when the Temporal worker stops (rejects if it crashed). */
  readonly done: Promise<void>;
  /** Graceful stop: the Temporal worker drains its in-flight tasks, then the relay and the pruner stop. */
  shutdown(): Promise<void>;
}

/** The worker's moving parts: a Temporal worker (both workflows + activities), the outbox relay and its pruner. */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const relay = startOutboxRelay({
    db: options.db,
    js: jetstream(options.nc),
    logger: options.logger.child({ component: 'outbox-relay' }),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.tracing?.enabled ? { tracer: options.tracing.tracer } : {}),
    ...options.relay,
  });
  const retentionMs = options.pruner?.retentionMs ?? 0;
  const pruner =
    retentionMs > 0
      ? startOutboxPruner({
          db: options.db,
          logger: options.logger.child({ component: 'outbox-pruner' }),
          ...(options.metrics ? { metrics: options.metrics } : {}),
          ...options.pruner,
          retentionMs,
        })
      : undefined;
  const activities = createActivities({
    db: options.db,
    logger: options.logger.child({ component: 'activities' }),
    topology: options.topology,
    http: options.http,
    ...(options.resolvers ? { resolvers: options.resolvers } : {}),
    ...(options.eventSource ? { eventSource: options.eventSource } : {}),
    // Rows that are the first of their key skip the claim; any other write wakes the claim path.
    onOutboxWritten: (committed) => (committed ? relay.publishCommitted(committed) : relay.notify()),
    ...(options.metrics ? { metrics: createRunMetrics(options.metrics) } : {}),
    ...(options.expressionLimits ? { expressionLimits: options.expressionLimits } : {}),
  });
  const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const forceMs = Math.max(options.shutdownForceMs ?? DEFAULT_SHUTDOWN_FORCE_MS, graceMs);
  const tracing = options.tracing;
  // Loaded only with tracing on: with it off the worker does not load the OTel SDK at all.
  const otel = tracing?.enabled ? await import('@temporalio/interceptors-opentelemetry') : undefined;
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection: options.connection,
      namespace: options.namespace,
      taskQueue: options.taskQueue,
      workflowBundle: options.workflowBundle,
      activities,
      shutdownGraceTime: graceMs,
      // Core keeps retrying a failing local activity after shutdown was asked for; without a
      // force time that would hold the process forever.
      shutdownForceTime: forceMs,
      ...(otel && tracing?.spanProcessor && tracing.resource
        ? {
            interceptors: {
              activity: [
                (ctx) => ({
                  inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx),
                  outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
                }),
              ],
            },
            sinks: { exporter: otel.makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
          }
        : {}),
      ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
      ...(options.maxConcurrentWorkflowTaskExecutions !== undefined
        ? { maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTaskExecutions }
        : {}),
      ...(options.maxConcurrentActivityTaskExecutions !== undefined
        ? { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions }
        : {}),
    });
  } catch (error) {
    await Promise.all([relay.stop(), pruner?.stop()]);
    throw error;
  }
  const done = worker.run();
  return {
    worker,
    relay,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch((error: unknown) => options.logger.error('worker stopped with an error', { error }));
      await Promise.all([relay.stop(), pruner?.stop()]);
    },
  };
}
