import { type Db, type DefinitionRecord, getDefinition, listActiveDefinitions, NotFoundError } from '@activity-core/db';
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  ScheduleNotFoundError,
} from '@temporalio/client';
import {
  type DesiredSchedule,
  definitionIdOf,
  desiredSchedule,
  type ScheduleSettings,
  scheduleIdFor,
} from './desired-schedule.ts';

export interface ScheduleDeps {
  readonly client: Client;
  readonly db: Db;
  readonly settings: ScheduleSettings;
  readonly now?: () => Date;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
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
  /** Neither the database nor Temporal has anything for this definition. */
  | 'absent';

class NewerScheduleInTemporal extends Error {
  constructor() {
    super('the schedule was written from a newer definition version');
    this.name = 'NewerScheduleInTemporal';
  }
}

interface AppliedMemo {
  readonly definitionVersion?: number;
  readonly fingerprint?: string;
}

function appliedMemo(description: ScheduleDescription): AppliedMemo {
  const action = description.action;
  if (action.type !== 'startWorkflow') return {};
  return (action.memo ?? {}) as AppliedMemo;
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
  attempt = 1,
): Promise<ReconcileOutcome> {
  const now = deps.now?.() ?? new Date();
  const desired = definition ? desiredSchedule(definition, deps.settings, now) : undefined;
  const scheduleId = scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix);
  const current = await describeOrUndefined(deps.client, scheduleId);

  if (!desired) {
    if (!current) return 'absent';
    await deps.client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch((error: unknown) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
    deps.log?.('schedule deleted', { scheduleId, definitionId });
    return 'deleted';
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
      deps.log?.('schedule created', { scheduleId, definitionId, version: desired.version });
      return 'created';
    } catch (error) {
      // Another replica created it between our describe and create: reconcile against theirs.
      // A few times only: a schedule still being deleted can look absent and present at once;
      // the next periodic pass settles that.
      if (!(error instanceof ScheduleAlreadyRunning) || attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      return reconcileFrom(deps, definitionId, definition, attempt + 1);
    }
  }

  const applied = appliedMemo(current);
  if ((applied.definitionVersion ?? 0) > desired.version) return 'newer_in_temporal';
  let outcome: ReconcileOutcome = 'unchanged';
  if (applied.fingerprint !== desired.fingerprint) {
    try {
      await deps.client.schedule.getHandle(scheduleId).update((previous) => {
        // A newer writer may have got there since our describe: keep theirs.
        if ((appliedMemo(previous).definitionVersion ?? 0) > desired.version) throw new NewerScheduleInTemporal();
        return { ...previous, spec: desired.spec, action: desired.action, policies: desired.policies };
      });
    } catch (error) {
      if (error instanceof NewerScheduleInTemporal) return 'newer_in_temporal';
      throw error;
    }
    deps.log?.('schedule updated', { scheduleId, definitionId, version: desired.version });
    outcome = 'updated';
  }
  const pausedOutcome = await applyPaused(deps, desired, current.state.paused);
  return outcome === 'updated' ? outcome : (pausedOutcome ?? outcome);
}

export interface ReconcileReport {
  readonly outcomes: Readonly<Record<string, ReconcileOutcome>>;
  readonly orphansDeleted: readonly string[];
}

/**
 * Reconciles every definition in the database, then removes schedules that carry our prefix
 * but belong to no live cron definition. A schedule found by the listing is re-checked
 * against a fresh database read before it is deleted, so one created a moment ago for a new
 * definition survives.
 */
export async function reconcileAll(deps: ScheduleDeps): Promise<ReconcileReport> {
  const definitions = await listActiveDefinitions(deps.db);
  const outcomes: Record<string, ReconcileOutcome> = {};
  for (const definition of definitions) {
    outcomes[definition.id] = await reconcileDefinition(deps, definition.id);
  }
  const orphansDeleted: string[] = [];
  for await (const summary of deps.client.schedule.list()) {
    const definitionId = definitionIdOf(summary.scheduleId, deps.settings.scheduleIdPrefix);
    if (definitionId === undefined || definitionId in outcomes) continue;
    const outcome = await reconcileDefinition(deps, definitionId);
    outcomes[definitionId] = outcome;
    if (outcome === 'deleted') orphansDeleted.push(summary.scheduleId);
  }
  return { outcomes, orphansDeleted };
}

/** Runs `reconcileAll` now and every `intervalMs`, one pass at a time, until stopped. */
export function startReconcileLoop(deps: ScheduleDeps, intervalMs: number): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = reconcileAll(deps).then(
      () => undefined,
      (error: unknown) => deps.log?.('schedule reconcile pass failed', { error }),
    );
    void running.then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
