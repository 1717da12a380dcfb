import { type Db, outboxStats } from '@activity-core/db';
import type { Logger } from '@activity-core/runtime';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/** Scrapes within this long of each other share one outbox query. */
const STATS_TTL_MS = 1000;

/**
 * The worker's own series beside the relay's `ac_outbox_published_total` /
 * `ac_outbox_publish_failures_total`: Node's process metrics, and the outbox backlog read from
 * PostgreSQL at scrape time (rows not yet published, of which failing, and the age of the
 * oldest). The backlog is the installation's, not this replica's: every worker reports the same
 * figure (aggregate with `max`). A scrape whose query fails keeps the last figures.
 */
export function registerWorkerMetrics(registry: Registry, db: Db, logger: Logger): void {
  collectDefaultMetrics({ register: registry });
  let cached: { at: number; stats: ReturnType<typeof outboxStats> } | undefined;
  const stats = () => {
    const now = Date.now();
    if (!cached || now - cached.at > STATS_TTL_MS) cached = { at: now, stats: outboxStats(db) };
    return cached.stats;
  };
  const read = async (apply: (s: Awaited<ReturnType<typeof outboxStats>>) => void) => {
    try {
      apply(await stats());
    } catch (error) {
      logger.debug('outbox backlog not read for /metrics', { error });
    }
  };
  new Gauge({
    name: 'ac_outbox_pending',
    help: 'Outbox rows not yet published (whole installation)',
    registers: [registry],
    collect() {
      return read((s) => this.set(s.pending));
    },
  });
  new Gauge({
    name: 'ac_outbox_failing',
    help: 'Outbox rows not yet published whose last publish failed',
    registers: [registry],
    collect() {
      return read((s) => this.set(s.failing));
    },
  });
  new Gauge({
    name: 'ac_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest outbox row not yet published; 0 when none',
    registers: [registry],
    collect() {
      return read((s) =>
        this.set(s.oldestPendingAt ? Math.max(0, (Date.now() - s.oldestPendingAt.getTime()) / 1000) : 0),
      );
    },
  });
}
