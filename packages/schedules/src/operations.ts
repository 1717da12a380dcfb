import { type Db, getDefinition } from '@activity-core/db';
import type { ScheduleDescription } from '@temporalio/client';
import { sql } from 'kysely';
import { scheduleIdFor } from './desired-schedule.ts';
import type { ScheduleDeps } from './reconcile.ts';

export interface ScheduleState {
  readonly scheduleId: string;
  readonly definitionId: string;
  readonly paused: boolean;
  readonly note: string | undefined;
  /** Upcoming fire times as Temporal will take them (jitter included). */
  readonly nextFireTimes: readonly string[];
  readonly recentFires: ReadonlyArray<{
    readonly workflowId: string;
    readonly scheduledAt: string;
    readonly takenAt: string;
  }>;
  readonly lastFireAt: string | undefined;
  readonly firesTaken: number;
  /** Occurrences Temporal dropped because they were older than the catch-up window. */
  readonly missedCatchupWindow: number;
  /** Cron runs by status in the database: skipped and coalesced are misfires. */
  readonly runsByStatus: Readonly<Record<string, number>>;
}

async function runsByStatus(db: Db, definitionId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('runs')
    .select(['status', sql<number>`count(*)::int`.as('n')])
    .where('definition_id', '=', definitionId)
    .where('trigger_kind', '=', 'cron')
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

function toState(definitionId: string, d: ScheduleDescription, counts: Record<string, number>): ScheduleState {
  const recent = d.info.recentActions.map((a) => ({
    workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : '',
    scheduledAt: a.scheduledAt.toISOString(),
    takenAt: a.takenAt.toISOString(),
  }));
  return {
    scheduleId: d.scheduleId,
    definitionId,
    paused: d.state.paused,
    note: d.state.note,
    nextFireTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentFires: recent,
    lastFireAt: recent.at(-1)?.takenAt,
    firesTaken: d.info.numActionsTaken,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    runsByStatus: counts,
  };
}

/** Last and next fires, counts of fires taken and missed, and misfire outcomes from the runs table. */
export async function describeSchedule(deps: ScheduleDeps, definitionId: string): Promise<ScheduleState> {
  await getDefinition(deps.db, definitionId);
  const description = await deps.client.schedule
    .getHandle(scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix))
    .describe();
  return toState(definitionId, description, await runsByStatus(deps.db, definitionId));
}

/** Starts one occurrence now (nominal time = now), alongside any running ones. */
export async function triggerScheduleNow(deps: ScheduleDeps, definitionId: string): Promise<void> {
  await getDefinition(deps.db, definitionId);
  await deps.client.schedule
    .getHandle(scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix))
    .trigger('ALLOW_ALL');
}

/**
 * Replays the occurrences of a past time range. Each backfilled run carries its own nominal
 * time, so the definition's misfire policy judges it like any late occurrence: `skip` records
 * it and spawns nothing, `fire_once` lets only the newest spawn, `fire_all` up to the cap.
 */
export async function backfillSchedule(
  deps: ScheduleDeps,
  definitionId: string,
  range: { start: Date; end: Date },
): Promise<void> {
  if (!(range.start.getTime() < range.end.getTime())) {
    throw new RangeError('backfill range: start must be before end');
  }
  await getDefinition(deps.db, definitionId);
  await deps.client.schedule
    .getHandle(scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix))
    .backfill({ start: range.start, end: range.end, overlap: 'ALLOW_ALL' });
}
