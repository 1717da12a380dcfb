import type { TaskInstance } from '@activity-core/core';
import { type Selectable, sql } from 'kysely';
import { InvalidTransitionError, NotFoundError } from './errors.ts';
import { parseColumn, toJson } from './json.ts';
import { enqueueOutbox, type NewOutboxMessage } from './outbox.repository.ts';
import { newestFirstPage, type Page, type PageRequest, pageSize } from './pagination.ts';
import type { TaskInstancesTable, TaskStatus } from './schema.ts';
import { type Executor, inTransaction } from './transaction.ts';
import { isUuid, newId } from './uuid.ts';
import { JsonValue } from './values.ts';

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
    const unique = [...new Map(tasks.map((t) => [t.idempotencyKey, t])).values()].sort((a, b) =>
      a.idempotencyKey < b.idempotencyKey ? -1 : a.idempotencyKey > b.idempotencyKey ? 1 : 0,
    );
    const inserted = await trx
      .insertInto('task_instances')
      .values(
        unique.map((task) => ({
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
          payload: toJson(task.payload ?? {}),
          due_at: task.dueAt ?? null,
          expires_at: task.expiresAt ?? null,
          completed_by: null,
          reason: null,
          completed_at: null,
        })),
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
    await enqueueOutbox(trx, messages);
    const missing = unique.filter((t) => !byKey.has(t.idempotencyKey)).map((t) => t.idempotencyKey);
    if (missing.length > 0) {
      // The conflicting inserts have committed (ON CONFLICT waited for them), so a fresh read sees them.
      const rows = await trx.selectFrom('task_instances').selectAll().where('idempotency_key', 'in', missing).execute();
      for (const row of rows) byKey.set(row.idempotency_key, { task: toTask(row), created: false });
    }
    return tasks.map((t) => {
      const result = byKey.get(t.idempotencyKey);
      if (!result) throw new NotFoundError({ entity: 'task', id: t.idempotencyKey });
      return result;
    });
  });
}

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
