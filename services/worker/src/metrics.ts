import { type Db, outboxStats } from '@activity-core/db';
import { type Logger, registerScrapedGauges } from '@activity-core/runtime';
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * The worker's own series beside the relay's `ac_outbox_published_total` /
 * `ac_outbox_publish_failures_total`: Node's process metrics, and the outbox backlog read from
 * PostgreSQL at scrape time (rows not yet published, of which failing, and the age of the
 * oldest). The backlog is the installation's, not this replica's: every worker reports the same
 * figure (aggregate with `max`).
 */
export function registerWorkerMetrics(registry: Registry, db: Db, logger: Logger): void {
  collectDefaultMetrics({ register: registry });
  registerScrapedGauges({
    registry,
    logger,
    what: 'outbox backlog',
    read: () => outboxStats(db),
    gauges: {
      ac_outbox_pending: { help: 'Outbox rows not yet published (whole installation)', value: (s) => s.pending },
      ac_outbox_failing: { help: 'Outbox rows not yet published whose last publish failed', value: (s) => s.failing },
      ac_outbox_oldest_pending_age_seconds: {
        help: 'Age of the oldest outbox row not yet published; 0 when none',
        value: (s) => (s.oldestPendingAt ? Math.max(0, (Date.now() - s.oldestPendingAt.getTime()) / 1000) : 0),
      },
    },
  });
}
