import { type Db, type DefinitionRecord, getDefinition, listActiveDefinitions, NotFoundError } from '@activity-core/db';
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  ScheduleNotFoundError,
} from '@temporalio/client';
import {
  compareTzdata,
  type DesiredSchedule,
  definitionIdOf,
  desiredSchedule,
  type ScheduleMemo,
  type ScheduleSettings,
  scheduleIdFor,
} from './desired-schedule.ts';

export interface ScheduleDeps {
  readonly client: Client;
  readonly db: Db;
  readonly settings: ScheduleSettings;
  readonly now?: () => Date;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Told the outcome of each definition `reconcileAll` reconciles (`failed`: it threw), for metrics. */
  readonly onOutcome?: (outcome: ReconcileOutcome | 'failed') => void;
}

export type ReconcileOutcome =
  | 'created'
  | 'updated'
  | 'paused'
  | 'resumed'
  | 'deleted'
  | 'unchanged'
  /** A schedule written from a newer definition version was left alone. */
  | 'newer_in_temporal'
  /** A schedule of the same definition version and window, compiled from newer tz data, was left alone. */
  | 'newer_tzdata_in_temporal'
  /** Neither the database nor Temporal has anything for this definition. */
  | 'absent';

class NewerScheduleInTemporal extends Error {
  constructor() {
    super('the schedule was written from a newer definition version');
    this.name = 'NewerScheduleInTemporal';
  }
}

/** The action memo a Schedule was written with (empty for schedules that are not ours). */
export function appliedMemo(description: Pick<ScheduleDescription, 'action'>): ScheduleMemo {
  const action = description.action;
  if (action.type !== 'startWorkflow') return {};
  return (action.memo ?? {}) as ScheduleMemo;
}

/**
 * The applied schedule holds the same definition version and window as ours but was compiled
 * from newer tz data: keep it (a fleet being upgraded converges on the newest data instead of
 * rewriting schedules back and forth). A renewal (a later window) is always written.
 */
function keepsNewerTzdata(applied: ScheduleMemo, desired: DesiredSchedule): boolean {
  return (
    applied.definitionVersion === desired.version &&
    applied.horizonEnd !== undefined &&
    Date.parse(applied.horizonEnd) >= desired.window.end.getTime() &&
    compareTzdata(applied.tzdata, desired.tzdataVersion) > 0
  );
}

async function describeOrUndefined(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return undefined;
    throw error;
  }
}

async function loadDefinition(db: Db, definitionId: string): Promise<DefinitionRecord | undefined> {
  try {
    return await getDefinition(db, definitionId);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

async function applyPaused(
  deps: ScheduleDeps,
  desired: DesiredSchedule,
  currentlyPaused: boolean,
): Promise<ReconcileOutcome | undefined> {
  if (currentlyPaused === desired.paused) return undefined;
  const handle = deps.client.schedule.getHandle(desired.scheduleId);
  if (desired.paused) {
    await handle.pause(`definition ${desired.definitionId} disabled`);
    return 'paused';
  }
  await handle.unpause(`definition ${desired.definitionId} enabled`);
  return 'resumed';
}

/**
 * Brings the Temporal Schedule of one definition in line with the database: create it for an
 * enabled or disabled cron definition (paused when disabled), update it when the compiled spec
 * or action changed, delete it when the definition is archived, gone, or no longer cron.
 *
 * Idempotent and safe to run from several processes: the desired schedule is a pure function
 * of the definition row, each write records the definition version it came from in the
 * action memo, and a writer holding an older version leaves a newer schedule alone. Temporal's
 * schedule update is last-writer-wins (no conflict token in the TS SDK), so two writers with
 * the same version may both write; they write the same thing. Unchanged schedules are never
 * rewritten: an update of a schedule with jitter can move a fire that is already due
 * (temporalio/temporal#4866), so only a real change pays that risk.
 */
export async function reconcileDefinition(deps: ScheduleDeps, definitionId: string): Promise<ReconcileOutcome> {
  return reconcileFrom(deps, definitionId, await loadDefinition(deps.db, definitionId));
}

/**
 * {@link reconcileDefinition} from a definition the caller already holds (for example the row
 * an update just returned); `undefined` means it no longer exists. The row may be stale: a
 * schedule written from a newer version is left alone.
 */
export async function reconcileFrom(
  deps: ScheduleDeps,
  definitionId: string,
  definition: DefinitionRecord | undefined,
): Promise<ReconcileOutcome> {
  return (await reconcileSchedule(deps, definitionId, definition)).outcome;
}

interface Reconciled {
  readonly outcome: ReconcileOutcome;
  /** End of the window the Schedule now holds (absent when there is no Schedule or it is not ours). */
  readonly horizonEnd?: Date;
}

function horizonOf(memo: ScheduleMemo): Date | undefined {
  return memo.horizonEnd === undefined ? undefined : new Date(memo.horizonEnd);
}

async function reconcileSchedule(
  deps: ScheduleDeps,
  definitionId: string,
  definition: DefinitionRecord | undefined,
  attempt = 1,
): Promise<Reconciled> {
  const now = deps.now?.() ?? new Date();
  const desired = definition ? desiredSchedule(definition, deps.settings, now) : undefined;
  const scheduleId = scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix);
  const current = await describeOrUndefined(deps.client, scheduleId);

  if (!desired) {
    if (!current) return { outcome: 'absent' };
    await deps.client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch((error: unknown) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
    deps.log?.('schedule deleted', { scheduleId, definitionId });
    return { outcome: 'deleted' };
  }

  if (!current) {
    try {
      await deps.client.schedule.create({
        scheduleId: desired.scheduleId,
        spec: desired.spec,
        action: desired.action,
        policies: desired.policies,
        state: desired.paused ? { paused: true, note: `definition ${definitionId} disabled` } : { paused: false },
      });
      deps.log?.('schedule created', logFields(desired));
      return { outcome: 'created', horizonEnd: desired.window.end };
    } catch (error) {
      // Another replica created it between our describe and create: reconcile against theirs.
      // A few times only: a schedule still being deleted can look absent and present at once;
      // the next periodic pass settles that.
      if (!(error instanceof ScheduleAlreadyRunning) || attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      return reconcileSchedule(deps, definitionId, definition, attempt + 1);
    }
  }

  const applied = appliedMemo(current);
  if ((applied.definitionVersion ?? 0) > desired.version) {
    return { outcome: 'newer_in_temporal', ...optionalHorizon(applied) };
  }
  let outcome: ReconcileOutcome = 'unchanged';
  let horizonEnd = horizonOf(applied);
  if (applied.fingerprint !== desired.fingerprint) {
    if (keepsNewerTzdata(applied, desired)) {
      outcome = 'newer_tzdata_in_temporal';
    } else {
      try {
        await deps.client.schedule.getHandle(scheduleId).update((previous) => {
          // A newer writer may have got there since our describe: keep theirs.
          if ((appliedMemo(previous).definitionVersion ?? 0) > desired.version) throw new NewerScheduleInTemporal();
          return { ...previous, spec: desired.spec, action: desired.action, policies: desired.policies };
        });
      } catch (error) {
        if (error instanceof NewerScheduleInTemporal) return { outcome: 'newer_in_temporal' };
        throw error;
      }
      deps.log?.('schedule updated', { ...logFields(desired), previousTzdata: applied.tzdata });
      outcome = 'updated';
      horizonEnd = desired.window.end;
    }
  }
  const pausedOutcome = await applyPaused(deps, desired, current.state.paused);
  return {
    outcome: outcome === 'updated' ? outcome : (pausedOutcome ?? outcome),
    ...(horizonEnd ? { horizonEnd } : {}),
  };
}

function logFields(desired: DesiredSchedule): Record<string, unknown> {
  return {
    scheduleId: desired.scheduleId,
    definitionId: desired.definitionId,
    version: desired.version,
    calendars: desired.spec.calendars?.length,
    horizonEnd: desired.window.end.toISOString(),
    tzdata: desired.tzdataVersion,
  };
}

function optionalHorizon(memo: ScheduleMemo): { horizonEnd?: Date } {
  const end = horizonOf(memo);
  return end ? { horizonEnd: end } : {};
}

export interface ReconcileReport {
  readonly outcomes: Readonly<Record<string, ReconcileOutcome>>;
  readonly orphansDeleted: readonly string[];
  /** Definitions whose reconcile failed this pass, with the error; the next pass retries them. */
  readonly failures: Readonly<Record<string, string>>;
  /** The soonest end of a compiled window among the schedules this pass saw (renewed ones included). */
  readonly earliestHorizonEnd: Date | undefined;
}

/**
 * Reconciles every definition in the database, then removes schedules that carry our prefix
 * but belong to no live cron definition. A schedule found by the listing is re-checked
 * against a fresh database read before it is deleted, so one created a moment ago for a new
 * definition survives. A definition that fails is reported and the pass goes on, so one bad
 * schedule cannot stop the others from being renewed.
 */
export async function reconcileAll(deps: ScheduleDeps): Promise<ReconcileReport> {
  const definitions = await listActiveDefinitions(deps.db);
  const outcomes: Record<string, ReconcileOutcome> = {};
  const failures: Record<string, string> = {};
  let earliestHorizonEnd: Date | undefined;
  const one = async (definitionId: string): Promise<ReconcileOutcome | undefined> => {
    try {
      const result = await reconcileSchedule(deps, definitionId, await loadDefinition(deps.db, definitionId));
      outcomes[definitionId] = result.outcome;
      deps.onOutcome?.(result.outcome);
      if (result.horizonEnd && (!earliestHorizonEnd || result.horizonEnd < earliestHorizonEnd)) {
        earliestHorizonEnd = result.horizonEnd;
      }
      return result.outcome;
    } catch (error) {
      failures[definitionId] = error instanceof Error ? error.message : String(error);
      deps.onOutcome?.('failed');
      deps.log?.('schedule reconcile failed; the next pass retries', { definitionId, error: failures[definitionId] });
      return undefined;
    }
  };
  for (const definition of definitions) await one(definition.id);
  const orphansDeleted: string[] = [];
  for await (const summary of deps.client.schedule.list()) {
    const definitionId = definitionIdOf(summary.scheduleId, deps.settings.scheduleIdPrefix);
    if (definitionId === undefined || definitionId in outcomes || definitionId in failures) continue;
    if ((await one(definitionId)) === 'deleted') orphansDeleted.push(summary.scheduleId);
  }
  return { outcomes, orphansDeleted, failures, earliestHorizonEnd };
}

/** What the reconcile loop last achieved, for readiness checks and logs. */
export interface ReconcileLoopStatus {
  readonly startedAt: Date;
  /** End of the last pass that completed (some definitions may still have failed in it). */
  readonly lastPassAt: Date | undefined;
  readonly lastPassError: string | undefined;
  readonly lastReport: ReconcileReport | undefined;
}

export interface ReconcileLoop {
  status(): ReconcileLoopStatus;
  stop(): Promise<void>;
}

/** Runs `reconcileAll` now and every `intervalMs`, one pass at a time, until stopped. */
export function startReconcileLoop(deps: ScheduleDeps, intervalMs: number): ReconcileLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const state: { -readonly [K in keyof ReconcileLoopStatus]: ReconcileLoopStatus[K] } = {
    startedAt: deps.now?.() ?? new Date(),
    lastPassAt: undefined,
    lastPassError: undefined,
    lastReport: undefined,
  };
  const tick = (): void => {
    running = reconcileAll(deps).then(
      (report) => {
        state.lastPassAt = deps.now?.() ?? new Date();
        state.lastPassError = undefined;
        state.lastReport = report;
      },
      (error: unknown) => {
        state.lastPassError = error instanceof Error ? error.message : String(error);
        deps.log?.('schedule reconcile pass failed', { error });
      },
    );
    void running.then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    status: () => ({ ...state }),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export interface ScheduleHealthOptions {
  /** A pass must have completed within this long (default: 5 intervals of the loop, at least 5 min). */
  readonly maxPassAgeMs: number;
  /** A compiled window must reach at least this far ahead (default 30 days). */
  readonly minHorizonMs?: number;
  readonly now?: () => Date;
}

/**
 * Throws when the Schedules may run dry unnoticed: no reconcile pass has completed lately
 * (renewal is part of the passes), a definition failed in the last pass, or a Schedule's
 * compiled window ends within `minHorizonMs`. For a `/readyz` check.
 */
export function checkScheduleHealth(status: ReconcileLoopStatus, options: ScheduleHealthOptions): void {
  const now = (options.now?.() ?? new Date()).getTime();
  const since = status.lastPassAt ?? status.startedAt;
  if (now - since.getTime() > options.maxPassAgeMs) {
    throw new Error(
      `no schedule reconcile pass completed since ${since.toISOString()}${status.lastPassError ? `: ${status.lastPassError}` : ''}`,
    );
  }
  const report = status.lastReport;
  if (!report) return;
  const failed = Object.keys(report.failures);
  if (failed.length > 0)
    throw new Error(`schedule reconcile failed for ${failed.length} definition(s): ${failed.slice(0, 3).join(', ')}`);
  const minHorizon = options.minHorizonMs ?? 30 * 86_400_000;
  if (report.earliestHorizonEnd && report.earliestHorizonEnd.getTime() - now < minHorizon) {
    throw new Error(`a schedule's compiled window ends at ${report.earliestHorizonEnd.toISOString()}`);
  }
}
