import { type Db, listenForDefinitionChanges } from '@activity-core/db';
import type { Logger } from '@activity-core/runtime';
import type { Client } from '@temporalio/client';
import type { ScheduleSettings } from './desired-schedule.ts';
import {
  checkScheduleHealth,
  type ReconcileOutcome,
  reconcileAll,
  reconcileDefinition,
  type ScheduleDeps,
  startReconcileLoop,
} from './reconcile.ts';

export interface ScheduleSyncOptions {
  readonly client: Client;
  readonly db: Db;
  readonly databaseUrl: string;
  readonly settings: ScheduleSettings;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Told the outcome of every definition reconciled (passes and change notifications), for metrics. */
  readonly onOutcome?: (outcome: ReconcileOutcome | 'failed') => void;
}

export interface ScheduleSync {
  /** Stops listening and the periodic pass. */
  stop(): Promise<void>;
  /**
   * For `/readyz`: throws when renewals may have stopped (see {@link checkScheduleHealth}):
   * no pass completed for five intervals, a definition failed, or a window ends within 30 days.
   */
  ready(): Promise<void>;
}

/**
 * Keeps the Temporal Schedules of cron definitions in line with the database (the worker runs it):
 * a full pass now and every `intervalMs` (creates, updates, pauses, deletes, removes orphans),
 * and a single-definition pass within a second of any definition change (PostgreSQL NOTIFY).
 * The API reconciles on its own writes too; both are idempotent, so running several workers
 * and APIs is safe.
 */
export async function startScheduleSync(options: ScheduleSyncOptions): Promise<ScheduleSync> {
  const deps: ScheduleDeps = {
    client: options.client,
    db: options.db,
    settings: options.settings,
    log: (message, fields) => options.logger.info(message, fields),
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
  };
  const loop = startReconcileLoop(deps, options.intervalMs);
  let stopped = false;
  let listener: { close(): Promise<void> } | undefined;
  let retry: NodeJS.Timeout | undefined;
  const listen = async (): Promise<void> => {
    try {
      listener = await listenForDefinitionChanges({
        url: options.databaseUrl,
        onChange: (definitionId) => {
          reconcileDefinition(deps, definitionId).then(
            (outcome) => options.onOutcome?.(outcome),
            (error: unknown) => {
              options.onOutcome?.('failed');
              options.logger.warn('schedule reconcile failed; the periodic pass will retry', { definitionId, error });
            },
          );
        },
        onError: (error) => {
          options.logger.warn('definition change listener lost; reconnecting', { error: error.message });
          void listener?.close();
          listener = undefined;
          scheduleRelisten();
        },
      });
      // Changes made while we were not listening.
      if (!stopped) await reconcileAll(deps).catch(() => undefined);
    } catch (error) {
      options.logger.warn('cannot listen for definition changes yet', { error });
      scheduleRelisten();
    }
  };
  const scheduleRelisten = (): void => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void listen();
    }, 2_000);
  };
  await listen();
  return {
    // For /readyz: renewal of the compiled windows is part of the passes; say when they stall.
    ready: async () =>
      checkScheduleHealth(loop.status(), { maxPassAgeMs: Math.max(5 * options.intervalMs, 5 * 60_000) }),
    stop: async () => {
      stopped = true;
      clearTimeout(retry);
      await listener?.close();
      await loop.stop();
    },
  };
}
