import { type EventEnvelope, JsonObject, RunWindow, StoredEventEnvelope } from '@activity-core/core';
import { CompiledQuery, type Selectable, sql } from 'kysely';
import type { DefinitionHead } from './definition.repository.ts';
import { ConflictError, InvalidTransitionError, NotFoundError } from './errors.ts';
import { parseColumn, toNullableJson } from './json.ts';
import { newestFirstPage, type Page, type PageRequest } from './pagination.ts';
import {
  insertRunLogEntries,
  isRunLogRace,
  type NewRunLogEntry,
  runLogEntriesCtes,
  runLogEntriesParameter,
} from './run-log.repository.ts';
import type { RunStatus, RunsTable, RunTriggerKind } from './schema.ts';
import { type Executor, inTransaction } from './transaction.ts';
import { isUuid, newId } from './uuid.ts';

export interface RunRecord {
  readonly id: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly triggerKind: RunTriggerKind;
  readonly triggerKey: string;
  readonly workflowId: string;
  readonly status: RunStatus;
  readonly nominalTime: Date | null;
  readonly jitterMs: number | null;
  readonly event: EventEnvelope | null;
  /** Window runs (`triggerKind` `window`): the window, open or closed. */
  readonly window: RunWindow | null;
  readonly summary: JsonObject | null;
  readonly error: JsonObject | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

export function toRun(row: Selectable<RunsTable>): RunRecord {
  const where = (field: string) => ({ table: 'runs', rowId: row.id, field });
  return {
    id: row.id,
    definitionId: row.definition_id,
    definitionVersion: row.definition_version,
    triggerKind: row.trigger_kind,
    triggerKey: row.trigger_key,
    workflowId: row.workflow_id,
    status: row.status,
    nominalTime: row.nominal_time,
    jitterMs: row.jitter_ms,
    event: row.event === null ? null : parseColumn(StoredEventEnvelope, row.event, where('event')),
    window: row.window === null ? null : parseColumn(RunWindow, row.window, where('window')),
    summary: row.summary === null ? null : parseColumn(JsonObject, row.summary, where('summary')),
    error: row.error === null ? null : parseColumn(JsonObject, row.error, where('error')),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Statuses a run never leaves. */
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'skipped',
  'coalesced',
  'expired',
  'cancelled',
];

/**
 * Which statuses may move to a given status. Finished runs move nowhere. A window run is
 * `waiting` while its window is open; it closes to `pending` (its run starts), `expired`
 * (allOf, incomplete; or later, after its `onExpired` tasks) or `cancelled` (discarded).
 */
export const RUN_TRANSITIONS_TO: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  waiting: [],
  pending: ['waiting'],
  running: ['pending'],
  succeeded: ['pending', 'running'],
  failed: ['pending', 'running'],
  skipped: ['pending'],
  coalesced: ['pending'],
  expired: ['waiting', 'pending', 'running'],
  cancelled: ['waiting'],
};

export function isFinishedRunStatus(status: RunStatus): boolean {
  return FINISHED_RUN_STATUSES.includes(status);
}

export interface InsertRunInput {
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly triggerKind: RunTriggerKind;
  /** Unique per definition: event key, `cron:{nominalTime}`, or the manual idempotency key. */
  readonly triggerKey: string;
  readonly workflowId: string;
  /**
   * `pending` (default), `skipped`/`coalesced` to record a misfire that spawns nothing, or
   * `waiting` for the run of an event window that just opened.
   */
  readonly status?: 'pending' | 'skipped' | 'coalesced' | 'waiting';
  readonly nominalTime?: Date | null;
  readonly jitterMs?: number | null;
  readonly event?: EventEnvelope | null;
  /** Window runs: the window as it opened. */
  readonly window?: RunWindow | null;
  readonly summary?: JsonObject | null;
}

/**
 * Insert the run of a trigger, or return the one already recorded for
 * (definitionId, triggerKey) with `created: false`. A workflow id already used by another
 * trigger gives `ConflictError`.
 */
export async function insertRunOrGet(
  db: Executor,
  input: InsertRunInput,
): Promise<{ run: RunRecord; created: boolean }> {
  const status = input.status ?? 'pending';
  const now = new Date();
  const inserted = await db
    .insertInto('runs')
    .values({
      id: newId(now.getTime()),
      definition_id: input.definitionId,
      definition_version: input.definitionVersion,
      trigger_kind: input.triggerKind,
      trigger_key: input.triggerKey,
      workflow_id: input.workflowId,
      status,
      nominal_time: input.nominalTime ?? null,
      jitter_ms: input.jitterMs ?? null,
      event: toNullableJson(input.event),
      window: toNullableJson(input.window),
      summary: toNullableJson(input.summary),
      error: null,
      started_at: null,
      finished_at: status === 'pending' || status === 'waiting' ? null : now,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { run: toRun(inserted), created: true };
  return { run: await existingRun(db, input), created: false };
}

/**
 * {@link insertRunOrGet} for the definition's current version (or `definitionVersion`, when
 * given: a pinned one), with the definition's head read in the same statement: one round trip
 * where a run starts (`getDefinitionHead`, then the insert, were two). A definition that does
 * not exist gives `NotFoundError`; a pinned version that does not exist, PostgreSQL's foreign
 * key violation, as the insert alone gives it.
 */
export async function insertRunOfDefinition(
  db: Executor,
  input: Omit<InsertRunInput, 'definitionVersion'> & { readonly definitionVersion?: number | undefined },
): Promise<{ definition: DefinitionHead; run: RunRecord; created: boolean }> {
  if (!isUuid(input.definitionId)) throw new NotFoundError({ entity: 'definition', id: input.definitionId });
  const status = input.status ?? 'pending';
  const now = new Date();
  const { rows } = await db.executeQuery<Selectable<RunsTable> & { d_id: string; d_key: string; d_version: number }>(
    CompiledQuery.raw(INSERT_RUN_OF_DEFINITION, [
      input.definitionId,
      newId(now.getTime()),
      input.definitionVersion ?? null,
      input.triggerKind,
      input.triggerKey,
      input.workflowId,
      status,
      input.nominalTime ?? null,
      input.jitterMs ?? null,
      toNullableJson(input.event),
      toNullableJson(input.window),
      toNullableJson(input.summary),
      status === 'pending' || status === 'waiting' ? null : now,
    ]),
  );
  const row = rows[0];
  if (!row) throw new NotFoundError({ entity: 'definition', id: input.definitionId });
  const { d_id, d_key, d_version, ...run } = row;
  const definition = { id: d_id, key: d_key, version: d_version };
  if (run.id !== null) return { definition, run: toRun(run), created: true };
  return { definition, run: await existingRun(db, input), created: false };
}

/**
 * The run a start did not insert: already recorded under its trigger key (a repeated start), or
 * by a concurrent start the inserting statement's snapshot does not show (ON CONFLICT waited for
 * it to commit), so this fresh read sees it. None: the workflow id is another run's.
 */
async function existingRun(
  db: Executor,
  input: { readonly definitionId: string; readonly triggerKey: string; readonly workflowId: string },
): Promise<RunRecord> {
  const existing = await db
    .selectFrom('runs')
    .selectAll()
    .where('definition_id', '=', input.definitionId)
    .where('trigger_key', '=', input.triggerKey)
    .executeTakeFirst();
  if (!existing) {
    throw new ConflictError({ entity: 'run', id: input.workflowId, reason: 'duplicate', field: 'workflow_id' });
  }
  return toRun(existing);
}

const INSERT_RUN_OF_DEFINITION = `
  with d as (select id, key, current_version from definitions where id = $1),
  inserted as (
    insert into runs (id, definition_id, definition_version, trigger_kind, trigger_key, workflow_id, status,
      nominal_time, jitter_ms, event, "window", summary, error, started_at, finished_at)
    select $2, d.id, coalesce($3::integer, d.current_version), $4, $5, $6, $7,
      $8::timestamptz, $9::integer, $10::jsonb, $11::jsonb, $12::jsonb, null, null, $13::timestamptz
    from d
    on conflict do nothing
    returning *
  )
  select d.id as d_id, d.key as d_key, d.current_version as d_version, inserted.* from d left join inserted on true`;

export interface TransitionRunInput {
  readonly id: string;
  readonly to: RunStatus;
  readonly summary?: JsonObject | null;
  readonly error?: JsonObject | null;
  /** Window runs: the window as it closed. */
  readonly window?: RunWindow;
}

/**
 * Move a run to `to` if the state machine allows it (`RUN_TRANSITIONS_TO`). Repeating the
 * transition a run already made returns it unchanged (activities are retried); anything else
 * from a finished run gives `InvalidTransitionError`.
 */
export async function transitionRun(db: Executor, input: TransitionRunInput): Promise<RunRecord> {
  return (await changeRunStatus(db, input)).run;
}

/**
 * {@link transitionRun}, also saying whether this call wrote the status (`changed`) or found the
 * run already in it (a retried activity, a replay): what counts a run's finish exactly once.
 */
export async function changeRunStatus(
  db: Executor,
  input: TransitionRunInput,
): Promise<{ run: RunRecord; changed: boolean }> {
  const updated = await updateRunStatus(db, input);
  if (updated) return { run: updated, changed: true };
  return unchangedRun(input, await getRun(db, input.id));
}

/**
 * {@link changeRunStatus} and {@link appendRunLogEntries} in one transaction, in the fewest
 * round trips: the status update takes the run's row lock that serializes appends (a repeated
 * transition locks the row instead), then one statement appends the entries. For a run that
 * finishes as it logs (its `run_finished` entry and its status commit together).
 */
export async function changeRunStatusWithLog(
  db: Executor,
  input: TransitionRunInput,
  entries: readonly NewRunLogEntry[],
): Promise<{ run: RunRecord; changed: boolean }> {
  // Outside a transaction, first as one statement (no BEGIN/COMMIT round trips). It decides
  // only when it moved the run and appended without a collision; a repeated or refused
  // transition, or an append it raced with, takes the locking transaction below.
  if (!db.isTransaction && entries.length > 0) {
    const moved = await moveRunWithLog(db, input, entries).catch((error: unknown) => {
      if (isRunLogRace(error)) return undefined;
      throw error;
    });
    if (moved) return { run: moved, changed: true };
  }
  return inTransaction(db, async (trx) => {
    const updated = await updateRunStatus(trx, input);
    const change = updated
      ? { run: updated, changed: true }
      : unchangedRun(input, await getRun(trx, input.id, { lock: true }));
    await insertRunLogEntries(trx, change.run.id, change.run.definitionId, entries);
    return change;
  });
}

/**
 * One statement: the run moved to `input.to` as {@link updateRunStatus} moves it, and `entries`
 * appended to it when it moved (none when it did not). The moved run, or undefined when it was
 * not in a status that may move there. The append can collide with one it could not see:
 * {@link isRunLogRace}.
 */
async function moveRunWithLog(
  db: Executor,
  input: TransitionRunInput,
  entries: readonly NewRunLogEntry[],
): Promise<RunRecord | undefined> {
  const move = moveRunParameters(input);
  if (!move) return undefined;
  const { rows } = await db.executeQuery<Selectable<RunsTable>>(
    CompiledQuery.raw(MOVE_RUN_WITH_LOG, [...move, runLogEntriesParameter(entries)]),
  );
  const row = rows[0];
  return row ? toRun(row) : undefined;
}

/**
 * The parameters $1–$10 of {@link MOVED_RUN}, or undefined when no run can move to `input.to`
 * (nothing moves there, or the id is no UUID).
 */
export function moveRunParameters(input: TransitionRunInput): unknown[] | undefined {
  const from = RUN_TRANSITIONS_TO[input.to];
  if (from.length === 0 || !isUuid(input.id)) return undefined;
  return [
    input.id,
    input.to,
    isFinishedRunStatus(input.to),
    input.summary !== undefined,
    toNullableJson(input.summary),
    input.error !== undefined,
    toNullableJson(input.error),
    input.window !== undefined,
    toNullableJson(input.window),
    from,
  ];
}

/** The CTE `moved`: {@link updateRunStatus}'s update, on the parameters of {@link moveRunParameters}. */
export const MOVED_RUN = `moved as (
    update runs set
      status = $2,
      updated_at = now(),
      started_at = case when $2 = 'running' then coalesce(started_at, now()) else started_at end,
      finished_at = case when $3::boolean then now() end,
      summary = case when $4::boolean then $5::jsonb else summary end,
      error = case when $6::boolean then $7::jsonb else error end,
      "window" = case when $8::boolean then $9::jsonb else "window" end
    where id = $1 and status = any($10::text[])
    returning *
  )`;

const MOVE_RUN_WITH_LOG = `
  with ${MOVED_RUN},
  ${runLogEntriesCtes('moved', '$1', '$11')}
  select * from moved`;

/** The run moved to `input.to`, or undefined when it is not in a status that may move there. */
async function updateRunStatus(db: Executor, input: TransitionRunInput): Promise<RunRecord | undefined> {
  const from = RUN_TRANSITIONS_TO[input.to];
  if (from.length === 0 || !isUuid(input.id)) return undefined;
  const finishing = isFinishedRunStatus(input.to);
  const updated = await db
    .updateTable('runs')
    .set({
      status: input.to,
      updated_at: sql<Date>`now()`,
      started_at: input.to === 'running' ? sql<Date>`coalesce(started_at, now())` : sql<Date | null>`started_at`,
      finished_at: finishing ? sql<Date>`now()` : null,
      ...(input.summary !== undefined ? { summary: toNullableJson(input.summary) } : {}),
      ...(input.error !== undefined ? { error: toNullableJson(input.error) } : {}),
      ...(input.window !== undefined ? { window: toNullableJson(input.window) } : {}),
    })
    .where('id', '=', input.id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
  return updated ? toRun(updated) : undefined;
}

/** A run the update did not move: already in `input.to` (a repeat), else the transition is refused. */
function unchangedRun(input: TransitionRunInput, current: RunRecord): { run: RunRecord; changed: boolean } {
  if (current.status === input.to) return { run: current, changed: false };
  throw new InvalidTransitionError({ entity: 'run', id: input.id, from: current.status, to: input.to });
}

/** The run; with `lock`, its row is locked (`FOR NO KEY UPDATE`) until the caller's transaction ends. */
export async function getRun(db: Executor, id: string, options: { readonly lock?: boolean } = {}): Promise<RunRecord> {
  const query = db.selectFrom('runs').selectAll().where('id', '=', id);
  const row = isUuid(id) ? await (options.lock ? query.forNoKeyUpdate() : query).executeTakeFirst() : undefined;
  if (!row) throw new NotFoundError({ entity: 'run', id });
  return toRun(row);
}

export async function getRunByWorkflowId(db: Executor, workflowId: string): Promise<RunRecord> {
  const row = await db.selectFrom('runs').selectAll().where('workflow_id', '=', workflowId).executeTakeFirst();
  if (!row) throw new NotFoundError({ entity: 'run', id: workflowId });
  return toRun(row);
}

export interface ListRunsFilter extends PageRequest {
  readonly definitionId?: string;
  readonly status?: RunStatus | readonly RunStatus[];
  readonly triggerKind?: RunTriggerKind;
  /** created_at >= createdFrom */
  readonly createdFrom?: Date;
  /** created_at < createdTo */
  readonly createdTo?: Date;
}

const RUNS_LIST = 'runs';

/** Runs, newest first, keyset-paginated on (created_at, id). */
export async function listRuns(db: Executor, filter: ListRunsFilter = {}): Promise<Page<RunRecord>> {
  let q = db.selectFrom('runs').selectAll();
  if (filter.definitionId !== undefined) {
    if (!isUuid(filter.definitionId)) return { items: [], nextCursor: null };
    q = q.where('definition_id', '=', filter.definitionId);
  }
  if (filter.status !== undefined) {
    const statuses: readonly RunStatus[] = typeof filter.status === 'string' ? [filter.status] : filter.status;
    if (statuses.length === 0) return { items: [], nextCursor: null };
    q = q.where('status', 'in', statuses);
  }
  if (filter.triggerKind !== undefined) q = q.where('trigger_kind', '=', filter.triggerKind);
  if (filter.createdFrom !== undefined) q = q.where('created_at', '>=', filter.createdFrom);
  if (filter.createdTo !== undefined) q = q.where('created_at', '<', filter.createdTo);
  return newestFirstPage(q, RUNS_LIST, filter, toRun);
}

/** The most recently finished successful run of a definition, if any. */
export async function lastSuccessfulRun(db: Executor, definitionId: string): Promise<RunRecord | undefined> {
  if (!isUuid(definitionId)) return undefined;
  const row = await db
    .selectFrom('runs')
    .selectAll()
    .where('definition_id', '=', definitionId)
    .where('status', '=', 'succeeded')
    .orderBy('finished_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? toRun(row) : undefined;
}

/**
 * Records where an open window stands (count, kept, duplicates) on its `waiting` run, so lists
 * show it. A no-op once the run left `waiting`.
 */
export async function updateWaitingWindow(db: Executor, runId: string, window: RunWindow): Promise<void> {
  if (!isUuid(runId)) return;
  await db
    .updateTable('runs')
    .set({ window: toNullableJson(window), updated_at: sql<Date>`now()` })
    .where('id', '=', runId)
    .where('status', '=', 'waiting')
    .execute();
}
