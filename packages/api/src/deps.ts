import type { ExpressionLimits } from '@activity-core/core';
import type { Database } from '@activity-core/db';
import { getDeadLetter, listDeadLetters, readStoredEvents, redriveDeadLetters } from '@activity-core/ingest';
import { PUBLISH_RETRY, publishRetrying, type Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import {
  backfillSchedule,
  DEFAULT_SCHEDULE_SETTINGS,
  describeSchedule,
  reconcileDefinition,
  type ScheduleDeps,
  type ScheduleSettings,
  triggerScheduleNow,
} from '@activity-core/schedules';
import { cancelTask, closeEventWindow, completeTask, startRunActivity } from '@activity-core/workflows';
import { jetstream } from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import type { Tracer } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { ApiDeps, DefinitionChange, EventSettings, RedriveInput, RedriveResult } from './context.ts';
import { createTokenBucketLimiter, type RateLimiter } from './rate-limit.ts';

export interface CreateApiDepsOptions {
  readonly db: Kysely<Database>;
  readonly nc: NatsConnection;
  readonly temporal: Client;
  readonly taskQueue: string;
  readonly topology: Topology;
  readonly logger: Logger;
  /** activity-core's tracer when the service traces: spans per procedure, trace context on published events. */
  readonly tracer?: Tracer | undefined;
  readonly bootstrapToken?: string | undefined;
  /** Default: 20 requests/s per token, bursts of 100. */
  readonly rateLimiter?: RateLimiter;
  /** Default: ingest's `redriveDeadLetters` on this connection and topology. */
  readonly redriveDeadLetters?: (input: RedriveInput) => Promise<RedriveResult>;
  /**
   * Called after a definition write commits. Default: reconcile its Temporal Schedule at once
   * (the worker's periodic pass heals anything this misses).
   */
  readonly onDefinitionChanged?: (definitionId: string, change: DefinitionChange) => Promise<void>;
  /** How ingest reads events (for backtests); default: ingest's defaults. */
  readonly eventSettings?: EventSettings;
  /** Catch-up window and DST horizon of the Schedules written (task queue comes from `taskQueue`). */
  readonly scheduleSettings?: Omit<ScheduleSettings, 'taskQueue'>;
  /** CEL budget and input limits. Default: the core's defaults. */
  readonly expressionLimits?: ExpressionLimits;
}

/** Ingest's defaults (`services/ingest/src/config.ts`) for the settings a backtest shares with it. */
export const DEFAULT_EVENT_SETTINGS: EventSettings = {
  defaultSource: 'urn:activity-core:nats',
  maxPayloadBytes: 256 * 1024,
  maxCausationDepth: 8,
};

/** The real dependencies: PostgreSQL, JetStream, Temporal. */
export function createApiDeps(options: CreateApiDepsOptions): ApiDeps {
  const js = jetstream(options.nc);
  const scheduleDeps: ScheduleDeps = {
    client: options.temporal,
    db: options.db,
    settings: { ...DEFAULT_SCHEDULE_SETTINGS, ...options.scheduleSettings, taskQueue: options.taskQueue },
    log: (message, fields) => options.logger.info(message, fields),
  };
  return {
    db: options.db,
    logger: options.logger,
    ...(options.tracer ? { tracer: options.tracer } : {}),
    bootstrapToken: options.bootstrapToken,
    rateLimiter: options.rateLimiter ?? createTokenBucketLimiter({ ratePerSecond: 20, burst: 100 }),
    topology: options.topology,
    ...(options.expressionLimits ? { expressionLimits: options.expressionLimits } : {}),
    async publish(subject, data, { msgID, headers }) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(headers ?? {})) h.set(k, v);
      const ack = await publishRetrying(js, subject, data, { msgID, headers: h }, PUBLISH_RETRY, {
        onRetry: (attempt, error) =>
          options.logger.warn('event publish not acknowledged; retrying', { subject, msgID, attempt, error }),
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    },
    maxPayloadBytes: () => options.nc.info?.max_payload ?? 1024 * 1024,
    startRun: (input) => startRunActivity(options.temporal, { taskQueue: options.taskQueue, input }),
    closeWindow: (window, request) => closeEventWindow(options.temporal, window, request),
    completeTask: (workflowId, input) => completeTask(options.temporal, workflowId, input),
    cancelTask: (workflowId, input) => cancelTask(options.temporal, workflowId, input),
    redriveDeadLetters:
      options.redriveDeadLetters ??
      ((input) => redriveDeadLetters({ nc: options.nc, topology: options.topology }, input)),
    deadLetters: {
      list: (input) => listDeadLetters({ nc: options.nc, topology: options.topology }, input),
      get: (seq) => getDeadLetter({ nc: options.nc, topology: options.topology }, seq),
    },
    readStoredEvents: (input) => readStoredEvents({ nc: options.nc, topology: options.topology }, input),
    eventSettings: options.eventSettings ?? DEFAULT_EVENT_SETTINGS,
    onDefinitionChanged:
      options.onDefinitionChanged ??
      (async (definitionId) => {
        await reconcileDefinition(scheduleDeps, definitionId);
      }),
    schedules: {
      describe: (definitionId) => describeSchedule(scheduleDeps, definitionId),
      trigger: (definitionId) => triggerScheduleNow(scheduleDeps, definitionId),
      backfill: (definitionId, range) => backfillSchedule(scheduleDeps, definitionId, range),
      reconcile: (definitionId) => reconcileDefinition(scheduleDeps, definitionId),
    },
  };
}
