import type { ActivityMetrics } from '@activity-core/activities';
import { type Db, FINISHED_RUN_STATUSES, outboxStats, type RunRecord, type RunTriggerKind } from '@activity-core/db';
import { type Logger, registerScrapedGauges } from '@activity-core/runtime';
import type { ReconcileOutcome } from '@activity-core/schedules';
import { Counter, collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

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

const TRIGGER_KINDS = ['event', 'cron', 'manual', 'window'] as const satisfies readonly RunTriggerKind[];
const TASK_OUTCOMES = ['completed', 'cancelled', 'expired'] as const;

/** Buckets of `ac_run_duration_seconds`: a run takes from milliseconds to (slow context sources) minutes. */
export const RUN_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/**
 * Seconds a finished run took: from its start (`started_at`, when context resolution began;
 * `created_at` for a run that never got that far: a misfire, a failure before it) to
 * `finished_at`. Both are the database's clock.
 */
export function runDurationSeconds(run: Pick<RunRecord, 'createdAt' | 'startedAt' | 'finishedAt'>): number {
  if (run.finishedAt === null) return 0;
  return Math.max(0, (run.finishedAt.getTime() - (run.startedAt ?? run.createdAt).getTime()) / 1000);
}

/**
 * The run and task series, fed by the activities' state changes (see `ActivityMetrics`):
 * counted once per change written, whichever replica wrote it, so sum them across workers.
 * Every label combination starts at 0, so `increase()` sees the first run of a kind.
 */
export function createRunMetrics(registry: Registry): ActivityMetrics {
  const registers = [registry];
  const started = new Counter({
    name: 'ac_runs_started_total',
    help: 'Runs recorded (a run row inserted), by trigger kind',
    labelNames: ['trigger_kind'],
    registers,
  });
  const finished = new Counter({
    name: 'ac_runs_finished_total',
    help: 'Runs finished (a finished status written), by trigger kind and status: succeeded, failed, skipped, coalesced (misfires), expired, cancelled',
    labelNames: ['trigger_kind', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'ac_run_duration_seconds',
    help: 'Duration of finished runs, from start (created when it never started) to finish, by trigger kind and status',
    labelNames: ['trigger_kind', 'status'],
    buckets: RUN_DURATION_BUCKETS,
    registers,
  });
  const tasksCreated = new Counter({ name: 'ac_tasks_created_total', help: 'Task rows created', registers });
  const tasksClosed = new Counter({
    name: 'ac_tasks_closed_total',
    help: 'Tasks closed, by outcome: completed, cancelled, expired',
    labelNames: ['outcome'],
    registers,
  });
  const windowEventsIgnored = new Counter({
    name: 'ac_window_events_ignored_total',
    help: 'Events an allOf window ignored: none was open under their key and their type opens none',
    registers,
  });
  for (const trigger_kind of TRIGGER_KINDS) {
    started.inc({ trigger_kind }, 0);
    for (const status of FINISHED_RUN_STATUSES) finished.inc({ trigger_kind, status }, 0);
  }
  for (const outcome of TASK_OUTCOMES) tasksClosed.inc({ outcome }, 0);
  tasksCreated.inc(0);
  windowEventsIgnored.inc(0);
  return {
    runStarted: (triggerKind) => started.inc({ trigger_kind: triggerKind }),
    runFinished: (run) => {
      const labels = { trigger_kind: run.triggerKind, status: run.status };
      finished.inc(labels);
      duration.observe(labels, runDurationSeconds(run));
    },
    tasksCreated: (count) => {
      if (count > 0) tasksCreated.inc(count);
    },
    taskClosed: (outcome) => tasksClosed.inc({ outcome }),
    windowEventsIgnored: (count) => windowEventsIgnored.inc(count),
  };
}

const RECONCILE_OUTCOMES = [
  'created',
  'updated',
  'paused',
  'resumed',
  'deleted',
  'unchanged',
  'newer_in_temporal',
  'newer_tzdata_in_temporal',
  'absent',
  'failed',
] as const satisfies readonly (ReconcileOutcome | 'failed')[];

/** `ac_schedule_reconciles_total{outcome}`: one per definition reconciled by this worker's schedule sync. */
export function createScheduleMetrics(registry: Registry): (outcome: ReconcileOutcome | 'failed') => void {
  const reconciles = new Counter({
    name: 'ac_schedule_reconciles_total',
    help: 'Schedule reconciles of one definition by this worker (periodic passes and change notifications), by outcome; failed ones are retried by the next pass',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of RECONCILE_OUTCOMES) reconciles.inc({ outcome }, 0);
  return (outcome) => reconciles.inc({ outcome });
}
