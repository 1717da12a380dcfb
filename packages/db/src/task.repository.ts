import type { TaskInstance } from '@activity-core/core';
import { CompiledQuery, type Selectable, sql } from 'kysely';
import { InvalidTransitionError, NotFoundError, PG_UNIQUE_VIOLATION, pgErrorCode } from './errors.ts';
import { parseColumn, toJson } from './json.ts';
import { enqueueOutbox, type NewOutboxMessage } from './outbox.repository.ts';
import { newestFirstPage, type Page, type PageRequest, pageSize } from './pagination.ts';
import {
  changeRunStatusWithLog,
  MOVED_RUN,
  moveRunParameters,
  type RunRecord,
  type TransitionRunInput,
  toRun,
} from './run.repository.ts';
import {
  appendRunLogEntries,
  isRunLogRace,
  type NewRunLogEntry,
  runLogEntriesCtes,
  runLogEntriesParameter,
} from './run-log.repository.ts';
import type { RunsTable, TaskInstancesTable, TaskStatus } from './schema.ts';
import { type Executor, inTransaction } from './transaction.ts';
import { isUuid, newId } from './uuid.ts';
import { JsonValue, type OutboxHeaders } from './values.ts';

export interface TaskRecord {
  readonly id: string;
  readonly runId: string;
  readonly definitionId: string;
  readonly definitionKey: string;
  readonly definitionVersion: number;
  readonly templateKey: string;
  /** Position of the task among those its template spawned in the run (forEach index, else 0). */
  readonly index: number;
  /** Equal to the task workflow id by convention: `task:{runWorkflowId}:{templateKey}:{index}`. */
  readonly idempotencyKey: string;
  readonly workflowId: string;
  readonly dedupeKey: string | null;
  readonly title: string;
  readonly description: string | null;
  readonly assignee: string | null;
  readonly priority: string | null;
  readonly labels: readonly string[];
  readonly payload: JsonValue;
  readonly status: TaskStatus;
  readonly dueAt: Date | null;
  readonly expiresAt: Date | null;
  readonly completedBy: string | null;
  readonly reason: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the task left `open` (completed, cancelled or expired). */
  readonly completedAt: Date | null;
}

function toTask(row: Selectable<TaskInstancesTable>): TaskRecord {
  const where = (field: string) => ({ table: 'task_instances', rowId: row.id, field });
  return {
    id: row.id,
    runId: row.run_id,
    definitionId: row.definition_id,
    definitionKey: row.definition_key,
    definitionVersion: row.definition_version,
    templateKey: row.template_key,
    index: row.template_index,
    idempotencyKey: row.idempotency_key,
    workflowId: row.workflow_id,
    dedupeKey: row.dedupe_key,
    title: row.title,
    description: row.description,
    assignee: row.assignee,
    priority: row.priority,
    labels: row.labels,
    payload: parseColumn(JsonValue, row.payload, where('payload')),
    status: row.status,
    dueAt: row.due_at,
    expiresAt: row.expires_at,
    completedBy: row.completed_by,
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

export interface NewTask {
  readonly runId: string;
  readonly definitionId: string;
  readonly definitionKey: string;
  readonly definitionVersion: number;
  readonly templateKey: string;
  readonly index: number;
  readonly idempotencyKey: string;
  /** Defaults to `idempotencyKey`. */
  readonly workflowId?: string;
  readonly dedupeKey?: string | null;
  readonly title: string;
  readonly description?: string | null;
  readonly assignee?: string | null;
  readonly priority?: string | null;
  readonly labels?: readonly string[];
  readonly payload?: JsonValue;
  readonly dueAt?: Date | null;
  readonly expiresAt?: Date | null;
  /** Defaults to a new UUIDv7. */
  readonly id?: string;
}

/** Builds the outbox messages for a task that was just written (e.g. `tasks.created.{key}`). */
export type TaskOutboxBuilder = (task: TaskRecord) => NewOutboxMessage | readonly NewOutboxMessage[];

function asList(m: NewOutboxMessage | readonly NewOutboxMessage[]): readonly NewOutboxMessage[] {
  return Array.isArray(m) ? (m as readonly NewOutboxMessage[]) : [m as NewOutboxMessage];
}

/**
 * Insert the task unless its idempotency key exists; in the same transaction, and only when the
 * row is new, write the outbox messages built from it. Concurrent callers with one key get one
 * row and one set of outbox messages; the loser gets the winner's row with `created: false`.
 */
export async function insertTaskIfAbsent(
  db: Executor,
  task: NewTask,
  outbox?: TaskOutboxBuilder,
): Promise<{ task: TaskRecord; created: boolean }> {
  const [result] = await insertTasksIfAbsent(db, [task], outbox);
  return result as { task: TaskRecord; created: boolean };
}

/**
 * {@link insertTaskIfAbsent} for many tasks in one transaction: one insert of the rows, one of
 * the outbox messages of the new ones, one read of those that existed. Results come in input
 * order. Rows are inserted in idempotency-key order, so two writers of overlapping batches
 * wait on each other instead of deadlocking.
 */
export async function insertTasksIfAbsent(
  db: Executor,
  tasks: readonly NewTask[],
  outbox?: TaskOutboxBuilder,
): Promise<Array<{ task: TaskRecord; created: boolean }>> {
  if (tasks.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const { results, messages } = await insertTaskRows(trx, tasks, outbox);
    await enqueueOutbox(trx, messages);
    return results;
  });
}

/** The task rows of {@link insertTasksIfAbsent}, and the outbox messages of the new ones (not written). */
async function insertTaskRows(
  trx: Executor,
  tasks: readonly NewTask[],
  outbox: TaskOutboxBuilder | undefined,
): Promise<{ results: Array<{ task: TaskRecord; created: boolean }>; messages: NewOutboxMessage[] }> {
  const unique = [...new Map(tasks.map((t) => [t.idempotencyKey, t])).values()].sort((a, b) =>
    a.idempotencyKey < b.idempotencyKey ? -1 : a.idempotencyKey > b.idempotencyKey ? 1 : 0,
  );
  const inserted = await trx
    .insertInto('task_instances')
    .values(
      unique.map((task) => {
        const row = newTaskRow(task);
        return { ...row, payload: toJson(row.payload), completed_by: null, reason: null, completed_at: null };
      }),
    )
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .execute();
  const byKey = new Map<string, { task: TaskRecord; created: boolean }>();
  const messages: NewOutboxMessage[] = [];
  for (const row of inserted) {
    const record = toTask(row);
    byKey.set(record.idempotencyKey, { task: record, created: true });
    if (outbox) messages.push(...asList(outbox(record)));
  }
  const missing = unique.filter((t) => !byKey.has(t.idempotencyKey)).map((t) => t.idempotencyKey);
  if (missing.length > 0) {
    // The conflicting inserts have committed (ON CONFLICT waited for them), so a fresh read sees them.
    const rows = await trx.selectFrom('task_instances').selectAll().where('idempotency_key', 'in', missing).execute();
    for (const row of rows) byKey.set(row.idempotency_key, { task: toTask(row), created: false });
  }
  const results = tasks.map((t) => {
    const result = byKey.get(t.idempotencyKey);
    if (!result) throw new NotFoundError({ entity: 'task', id: t.idempotencyKey });
    return result;
  });
  return { results, messages };
}

export interface RunTasksInput {
  readonly runId: string;
  readonly tasks: readonly NewTask[];
  /** The outbox messages of each task row this call inserts. */
  readonly outbox: TaskOutboxBuilder;
  /** The run-log entries of the batch (its `task_created`s), from the rows in input order. */
  readonly entries: (rows: ReadonlyArray<{ task: TaskRecord; created: boolean }>) => readonly NewRunLogEntry[];
  /** The run's last batch: the run moves to this status in the same transaction. */
  readonly finish?: TransitionRunInput;
}

/**
 * A run's batch of tasks, all committed together: {@link insertTasksIfAbsent}'s rows and
 * outbox messages, the batch's run-log entries and, on the last batch, the run's status
 * ({@link changeRunStatusWithLog}). `change` is the status change, for the caller to report
 * once this committed.
 *
 * First as one statement (one round trip instead of six: BEGIN, the rows, the outbox, the
 * status, the entries, COMMIT). It decides only the plain case: every task is new, and the run
 * moves (or, for a batch that does not finish it, exists); it writes nothing otherwise. A task
 * already there (a retried batch, or a concurrent attempt that got there first) or an append
 * it raced with fails it whole, a run that did not move leaves it empty, and the batch is then
 * written the locking way, in a transaction, as before.
 */
export async function insertRunTasks(db: Executor, input: RunTasksInput): Promise<RunTasksWritten> {
  if (!db.isTransaction) {
    const atOnce = await insertRunTasksAtOnce(db, input).catch((error: unknown) => {
      if (isRunTasksRace(error)) return undefined;
      throw error;
    });
    if (atOnce) return atOnce;
  }
  return inTransaction(db, async (trx) => {
    const { results, messages } = await insertTaskRows(trx, input.tasks, input.outbox);
    await enqueueOutbox(trx, messages);
    const entries = input.entries(results);
    if (input.finish) {
      return { rows: results, change: await changeRunStatusWithLog(trx, input.finish, entries), outbox: messages };
    }
    await appendRunLogEntries(trx, input.runId, entries);
    return { rows: results, change: undefined, outbox: messages };
  });
}

export interface RunTasksWritten {
  readonly rows: Array<{ task: TaskRecord; created: boolean }>;
  readonly change: { run: RunRecord; changed: boolean } | undefined;
  /** The outbox messages written, as stored (ids set, bodies with their rows' times). */
  readonly outbox: readonly NewOutboxMessage[];
}

/** A collision that fails {@link insertRunTasksAtOnce} whole: a task row already there, or a run-log append. */
function isRunTasksRace(error: unknown): boolean {
  if (isRunLogRace(error) || pgErrorCode(error) === PG_DEADLOCK_DETECTED) return true;
  if (pgErrorCode(error) !== PG_UNIQUE_VIOLATION) return false;
  const constraint = (error as { constraint?: unknown }).constraint;
  return constraint === 'task_instances_idempotency_unique' || constraint === 'task_instances_pkey';
}

/** PostgreSQL's deadlock_detected: the statement was rolled back whole. */
const PG_DEADLOCK_DETECTED = '40P01';

/**
 * The one statement of {@link insertRunTasks}, or undefined when it wrote nothing (the run did
 * not move, or does not exist) or does not apply. The outbox messages are built before the rows
 * exist, from records whose `createdAt`/`updatedAt` are a marker instant; the statement puts
 * the rows' own time in its place (`now()`: one for both, and for every row of the batch), so
 * the stored events read as if built from the stored rows.
 */
async function insertRunTasksAtOnce(db: Executor, input: RunTasksInput): Promise<RunTasksWritten | undefined> {
  if (!isUuid(input.runId) || input.tasks.length === 0) return undefined;
  const unique = new Map(input.tasks.map((t) => [t.idempotencyKey, t]));
  if (unique.size !== input.tasks.length) return undefined;
  const move = input.finish ? moveRunParameters(input.finish) : [input.runId];
  if (!move) return undefined;
  const marker = timeMarker();
  const markerText = marker.toISOString();
  // Insert in idempotency-key order, as insertTaskRows does (overlapping batches do not deadlock).
  const rows = [...unique.values()]
    .sort((a, b) => (a.idempotencyKey < b.idempotencyKey ? -1 : a.idempotencyKey > b.idempotencyKey ? 1 : 0))
    .map(newTaskRow);
  const rowsText = JSON.stringify(rows);
  // A task's own values holding the marker would be rewritten too: the locking way, then.
  if (rowsText.includes(markerText)) return undefined;
  const records = new Map<string, TaskRecord>();
  const messages: OutboxMessageRow[] = [];
  for (const row of rows) {
    const record = provisionalRecord(row, marker);
    records.set(record.idempotencyKey, record);
    for (const m of asList(input.outbox(record))) {
      messages.push({
        key: record.idempotencyKey,
        id: m.id ?? newId(),
        subject: m.subject,
        headers: m.headers ?? {},
        body: JSON.stringify(m.body),
        order_key: m.orderKey ?? null,
      });
    }
  }
  const provisional = input.tasks.map((t) => ({ task: records.get(t.idempotencyKey) as TaskRecord, created: true }));
  const entries = runLogEntriesParameter(input.entries(provisional));
  const { rows: result } = await db.executeQuery<Selectable<RunsTable> & { tasks_created_at: Date | null }>(
    CompiledQuery.raw(input.finish ? FINISH_RUN_TASKS : LOCK_RUN_TASKS, [
      ...move,
      entries,
      rowsText,
      JSON.stringify(messages),
      markerText,
    ]),
  );
  const row = result[0];
  if (!row || row.tasks_created_at === null) return undefined;
  const at = row.tasks_created_at;
  const written = provisional.map(({ task }) => ({ task: { ...task, createdAt: at, updatedAt: at }, created: true }));
  // As the statement stored them: the marker replaced by the rows' creation time (one now() for
  // all), which to_char formats as toISOString does.
  const atText = at.toISOString();
  const outbox: NewOutboxMessage[] = messages.map((m) => ({
    id: m.id,
    subject: m.subject,
    headers: m.headers as OutboxHeaders,
    body: JSON.parse(m.body.replaceAll(markerText, atText)) as JsonValue,
    ...(m.order_key !== null ? { orderKey: m.order_key } : {}),
  }));
  if (!input.finish) return { rows: written, change: undefined, outbox };
  const { tasks_created_at: _, ...run } = row;
  return { rows: written, change: { run: toRun(run), changed: true }, outbox };
}

interface OutboxMessageRow {
  /** The idempotency key of the task the message is of. */
  readonly key: string;
  readonly id: string;
  readonly subject: string;
  readonly headers: unknown;
  /** JSON text, the marker instant still in it. */
  readonly body: string;
  readonly order_key: string | null;
}

/** An instant no task value holds by chance: a random millisecond of the year 2999. */
function timeMarker(): Date {
  return new Date(Date.UTC(2999, 0, 1) + Math.floor(Math.random() * 364 * 86_400_000));
}

/** The columns of a new task row ({@link insertTaskRows} writes them; the one statement reads them from its jsonb parameter). */
function newTaskRow(task: NewTask) {
  return {
    id: task.id ?? newId(),
    run_id: task.runId,
    definition_id: task.definitionId,
    definition_key: task.definitionKey,
    definition_version: task.definitionVersion,
    template_key: task.templateKey,
    template_index: task.index,
    idempotency_key: task.idempotencyKey,
    workflow_id: task.workflowId ?? task.idempotencyKey,
    dedupe_key: task.dedupeKey ?? null,
    title: task.title,
    description: task.description ?? null,
    assignee: task.assignee ?? null,
    priority: task.priority ?? null,
    labels: [...(task.labels ?? [])],
    payload: task.payload ?? {},
    due_at: task.dueAt ?? null,
    expires_at: task.expiresAt ?? null,
  };
}

/** The record a new row reads back as (open, nothing closed), its times the marker. */
function provisionalRecord(row: ReturnType<typeof newTaskRow>, at: Date): TaskRecord {
  return toTask({
    ...row,
    // As jsonb gives it back: a JSON round trip.
    payload: JSON.parse(JSON.stringify(row.payload)),
    status: 'open',
    completed_by: null,
    reason: null,
    created_at: at,
    updated_at: at,
    completed_at: null,
  });
}

/** The batch's rows (only with a `run` row), their messages (the marker replaced by the row's time) and entries. */
const runTasksCtes = (run: string, runId: string, entries: string, tasks: string, messages: string, marker: string) => `
  task_rows as (
    insert into task_instances (id, run_id, definition_id, definition_key, definition_version, template_key,
      template_index, idempotency_key, workflow_id, dedupe_key, title, description, assignee, priority, labels,
      payload, due_at, expires_at)
    select (t ->> 'id')::uuid, (t ->> 'run_id')::uuid, (t ->> 'definition_id')::uuid, t ->> 'definition_key',
      (t ->> 'definition_version')::integer, t ->> 'template_key', (t ->> 'template_index')::integer,
      t ->> 'idempotency_key', t ->> 'workflow_id', t ->> 'dedupe_key', t ->> 'title', t ->> 'description',
      t ->> 'assignee', t ->> 'priority', array(select jsonb_array_elements_text(t -> 'labels')), t -> 'payload',
      (t ->> 'due_at')::timestamptz, (t ->> 'expires_at')::timestamptz
    from jsonb_array_elements(${tasks}::jsonb) with ordinality as x(t, ord), ${run}
    order by ord
    returning idempotency_key, created_at
  ),
  messages as (
    insert into outbox (id, subject, headers, body, order_key)
    select (m ->> 'id')::uuid, m ->> 'subject', m -> 'headers',
      replace(m ->> 'body', ${marker}, to_char(r.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::jsonb,
      m ->> 'order_key'
    from jsonb_array_elements(${messages}::jsonb) with ordinality as y(m, ord)
    join task_rows r on r.idempotency_key = m ->> 'key'
    order by ord
  ),
  ${runLogEntriesCtes(run, runId, entries)}`;

const FINISH_RUN_TASKS = `
  with ${MOVED_RUN},
  ${runTasksCtes('moved', '$1', '$11', '$12', '$13', '$14')}
  select moved.*, (select min(created_at) from task_rows) as tasks_created_at from moved`;

const LOCK_RUN_TASKS = `
  with locked as (select id, definition_id from runs where id = $1::uuid for no key update),
  ${runTasksCtes('locked', '$1', '$2', '$3', '$4', '$5')}
  select locked.id, (select min(created_at) from task_rows) as tasks_created_at from locked`;

export type TaskClosingStatus = Exclude<TaskStatus, 'open'>;

export interface TransitionTaskInput {
  readonly id: string;
  readonly to: TaskClosingStatus;
  /** Who completed or cancelled it (user, system). */
  readonly by?: string | null;
  readonly reason?: string | null;
}

/**
 * Close an open task (completed, cancelled, expired) and write its outbox messages in the same
 * transaction. Repeating the same transition returns the task with `changed: false` and writes
 * no message; closing a task that was closed otherwise gives `InvalidTransitionError`.
 */
export async function transitionTask(
  db: Executor,
  input: TransitionTaskInput,
  outbox?: TaskOutboxBuilder,
): Promise<{ task: TaskRecord; changed: boolean }> {
  return inTransaction(db, async (trx) => {
    const updated = isUuid(input.id)
      ? await trx
          .updateTable('task_instances')
          .set({
            status: input.to,
            completed_by: input.by ?? null,
            reason: input.reason ?? null,
            completed_at: sql<Date>`now()`,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', input.id)
          .where('status', '=', 'open')
          .returningAll()
          .executeTakeFirst()
      : undefined;
    if (updated) {
      const record = toTask(updated);
      if (outbox) await enqueueOutbox(trx, asList(outbox(record)));
      return { task: record, changed: true };
    }
    const current = await getTask(trx, input.id);
    if (current.status === input.to) return { task: current, changed: false };
    throw new InvalidTransitionError({ entity: 'task', id: input.id, from: current.status, to: input.to });
  });
}

export async function getTask(db: Executor, id: string): Promise<TaskRecord> {
  const row = isUuid(id)
    ? await db.selectFrom('task_instances').selectAll().where('id', '=', id).executeTakeFirst()
    : undefined;
  if (!row) throw new NotFoundError({ entity: 'task', id });
  return toTask(row);
}

export async function getTaskByIdempotencyKey(db: Executor, idempotencyKey: string): Promise<TaskRecord> {
  const row = await db
    .selectFrom('task_instances')
    .selectAll()
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  if (!row) throw new NotFoundError({ entity: 'task', id: idempotencyKey });
  return toTask(row);
}

export interface ListTasksFilter extends PageRequest {
  readonly definitionId?: string;
  readonly runId?: string;
  readonly status?: TaskStatus | readonly TaskStatus[];
  readonly assignee?: string;
  /** Tasks that carry all of these labels. */
  readonly labels?: readonly string[];
  /** created_at >= createdFrom */
  readonly createdFrom?: Date;
  /** created_at < createdTo */
  readonly createdTo?: Date;
  /** due_at < dueBefore (tasks without a due time are excluded). */
  readonly dueBefore?: Date;
}

const TASKS_LIST = 'tasks';

/** Tasks, newest first, keyset-paginated on (created_at, id). */
export async function listTasks(db: Executor, filter: ListTasksFilter = {}): Promise<Page<TaskRecord>> {
  const empty = { items: [], nextCursor: null };
  let q = db.selectFrom('task_instances').selectAll();
  if (filter.definitionId !== undefined) {
    if (!isUuid(filter.definitionId)) return empty;
    q = q.where('definition_id', '=', filter.definitionId);
  }
  if (filter.runId !== undefined) {
    if (!isUuid(filter.runId)) return empty;
    q = q.where('run_id', '=', filter.runId);
  }
  if (filter.status !== undefined) {
    const statuses: readonly TaskStatus[] = typeof filter.status === 'string' ? [filter.status] : filter.status;
    if (statuses.length === 0) return empty;
    q = q.where('status', 'in', statuses);
  }
  if (filter.assignee !== undefined) q = q.where('assignee', '=', filter.assignee);
  if (filter.labels !== undefined && filter.labels.length > 0) {
    q = q.where(sql<boolean>`labels @> ${[...filter.labels]}::text[]`);
  }
  if (filter.createdFrom !== undefined) q = q.where('created_at', '>=', filter.createdFrom);
  if (filter.createdTo !== undefined) q = q.where('created_at', '<', filter.createdTo);
  if (filter.dueBefore !== undefined) q = q.where('due_at', '<', filter.dueBefore);
  return newestFirstPage(q, TASKS_LIST, filter, toTask);
}

/** Open tasks of a definition that share a dedupe key, oldest first. */
export async function openTasksByDedupeKey(
  db: Executor,
  definitionId: string,
  dedupeKey: string,
): Promise<TaskRecord[]> {
  if (!isUuid(definitionId)) return [];
  const rows = await db
    .selectFrom('task_instances')
    .selectAll()
    .where('definition_id', '=', definitionId)
    .where('dedupe_key', '=', dedupeKey)
    .where('status', '=', 'open')
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
  return rows.map(toTask);
}

/** Open tasks whose `expires_at` has passed (for the expiry sweep), oldest first. */
export async function listExpiredOpenTasks(db: Executor, now: Date, limit = 100): Promise<TaskRecord[]> {
  const rows = await db
    .selectFrom('task_instances')
    .selectAll()
    .where('status', '=', 'open')
    .where('expires_at', '<=', now)
    .orderBy('expires_at', 'asc')
    .limit(pageSize(limit))
    .execute();
  return rows.map(toTask);
}

/**
 * The core `TaskInstance` (ISO-8601 times) of a stored task: the shape published in `tasks.*`
 * events and served by the API.
 */
export function toTaskInstance(task: TaskRecord): TaskInstance {
  const iso = (d: Date | null) => (d === null ? null : d.toISOString());
  return {
    id: task.id,
    runId: task.runId,
    definitionId: task.definitionId,
    definitionKey: task.definitionKey,
    definitionVersion: task.definitionVersion,
    templateKey: task.templateKey,
    index: task.index,
    idempotencyKey: task.idempotencyKey,
    title: task.title,
    description: task.description,
    assignee: task.assignee,
    priority: task.priority,
    labels: [...task.labels],
    dueAt: iso(task.dueAt),
    expiresAt: iso(task.expiresAt),
    payload: task.payload,
    status: task.status,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
    completedAt: iso(task.completedAt),
    completedBy: task.completedBy,
    reason: task.reason,
  };
}
