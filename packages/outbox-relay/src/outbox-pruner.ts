import { type Database, pruneOutbox } from '@activity-core/db';
import type { Logger } from '@activity-core/runtime';
import type { Kysely } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import { wakeableSleep } from './wakeable-sleep.ts';

export interface OutboxPrunerOptions {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** Published rows are deleted this long after their publish. */
  readonly retentionMs: number;
  /** How often a pass starts. Default one minute. */
  readonly intervalMs?: number;
  /** Rows one statement deletes. Default 1000. */
  readonly batchSize?: number;
  /**
   * How long one pass may go on deleting full batches (default 10 s): a backlog of old rows
   * (an upgrade, a long retention shortened) goes over several passes, without one pass
   * holding a connection for minutes.
   */
  readonly passBudgetMs?: number;
  readonly metrics?: Registry;
}

export interface OutboxPruner {
  /** Finish the current statement and stop. */
  stop(): Promise<void>;
}

/**
 * Deletes published outbox rows older than the retention, in batches, oldest first; never an
 * unpublished or a skipped row. Its own loop beside the relay's, so a slow delete never holds up
 * publishing. Several pruners side by side skip each other's rows (`SKIP LOCKED`). A failed pass
 * is logged and tried again at the next interval.
 */
export function startOutboxPruner(options: OutboxPrunerOptions): OutboxPruner {
  const intervalMs = options.intervalMs ?? 60_000;
  const batchSize = options.batchSize ?? 1000;
  const passBudgetMs = options.passBudgetMs ?? 10_000;
  const pruned = new Counter({
    name: 'ac_outbox_pruned_total',
    help: 'Published outbox rows deleted after the retention (AC_OUTBOX_RETENTION_MS)',
    registers: options.metrics ? [options.metrics] : [],
  });
  let stopped = false;
  const { sleep, wake } = wakeableSleep();

  const pass = async (): Promise<void> => {
    const started = Date.now();
    for (;;) {
      const deleted = await pruneOutbox(options.db, { olderThanMs: options.retentionMs, limit: batchSize });
      pruned.inc(deleted);
      if (stopped || deleted < batchSize || Date.now() - started >= passBudgetMs) return;
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        await pass();
      } catch (error) {
        options.logger.warn('outbox prune failed; will try again', {
          error: error instanceof Error ? error.message : String(error),
          retryInMs: intervalMs,
        });
      }
      if (!stopped) await sleep(intervalMs);
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}
