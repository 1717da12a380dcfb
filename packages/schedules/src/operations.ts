import { parseCron, type ResolvedDstPolicy, resolveDstPolicy } from '@activity-core/core';
import { type Db, type DefinitionRecord, getDefinition } from '@activity-core/db';
import type { ScheduleDescription } from '@temporalio/client';
import { sql } from 'kysely';
import { scheduleIdFor } from './desired-schedule.ts';
import { appliedMemo, type ScheduleDeps } from './reconcile.ts';

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
  /**
   * The compiled window [start, end): Temporal fires nothing from `end` on unless the reconciler
   * renews the spec first (it does when the month changes, a year ahead). `remainingDays`
   * counts from now.
   */
  readonly horizon: {
    readonly start: string | undefined;
    readonly end: string | undefined;
    readonly remainingDays: number | undefined;
  };
  /** tz data the Schedule was compiled from, and this process's (a difference recompiles). */
  readonly tzdata: { readonly compiledWith: string | undefined; readonly current: string };
  /** Calendar entries of the compiled spec (all in UTC). */
  readonly calendarEntries: number;
  /** The definition's DST policy with `auto` resolved, when it has a cron trigger. */
  readonly dst: ResolvedDstPolicy | undefined;
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

interface StateContext {
  readonly counts: Record<string, number>;
  readonly tzdata: string;
  readonly now: Date;
  readonly dst: ResolvedDstPolicy | undefined;
}

function toState(definitionId: string, d: ScheduleDescription, context: StateContext): ScheduleState {
  const memo = appliedMemo(d);
  const start = memo.horizonStart ?? d.spec.startAt?.toISOString();
  const end = memo.horizonEnd ?? d.spec.endAt?.toISOString();
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
    runsByStatus: context.counts,
    horizon: {
      start,
      end,
      remainingDays:
        end === undefined ? undefined : Math.max(0, Math.floor((Date.parse(end) - context.now.getTime()) / 86_400_000)),
    },
    tzdata: { compiledWith: memo.tzdata, current: context.tzdata },
    calendarEntries: d.spec.calendars?.length ?? 0,
    dst: context.dst,
  };
}

function dstOf(definition: DefinitionRecord): ResolvedDstPolicy | undefined {
  const trigger = definition.spec.trigger;
  if (trigger.kind !== 'cron') return undefined;
  const cron = parseCron(trigger.cron.expression);
  return cron.ok ? resolveDstPolicy(cron.cron, trigger.cron.dst) : undefined;
}

/** Last and next fires, counts of fires taken and missed, and misfire outcomes from the runs table. */
export async function describeSchedule(deps: ScheduleDeps, definitionId: string): Promise<ScheduleState> {
  const definition = await getDefinition(deps.db, definitionId);
  const description = await deps.client.schedule
    .getHandle(scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix))
    .describe();
  return toState(definitionId, description, {
    counts: await runsByStatus(deps.db, definitionId),
    tzdata: deps.settings.tzdataVersion,
    now: deps.now?.() ?? new Date(),
    dst: dstOf(definition),
  });
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
  const handle = deps.client.schedule.getHandle(scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix));
  // The spec only holds the compiled window; Temporal would silently replay nothing before it.
  const { spec } = await handle.describe();
  if (spec.startAt && range.start < spec.startAt) {
    throw new RangeError(
      `backfill range: start is before the Schedule's compiled window, which begins at ${spec.startAt.toISOString()}`,
    );
  }
  await handle.backfill({ start: range.start, end: range.end, overlap: 'ALLOW_ALL' });
}
