import { type Selectable, sql } from 'kysely';
import { InvalidCursorError, NotFoundError } from './errors.ts';
import { parseColumn, toJson } from './json.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest, pageSize, toPage } from './pagination.ts';
import type { RunLogEntriesTable, RunLogKind } from './schema.ts';
import { type Executor, inTransaction } from './transaction.ts';
import { isUuid } from './uuid.ts';
import { JsonObject } from './values.ts';

export interface RunLogEntryRecord {
  readonly runId: string;
  /** 1, 2, 3 … per run, in append order, without gaps. */
  readonly seq: number;
  readonly definitionId: string;
  readonly at: Date;
  readonly kind: RunLogKind;
  readonly idempotencyKey: string | null;
  readonly data: JsonObject;
}

function toEntry(row: Selectable<RunLogEntriesTable>): RunLogEntryRecord {
  return {
    runId: row.run_id,
    seq: row.seq,
    definitionId: row.definition_id,
    at: row.at,
    kind: row.kind,
    idempotencyKey: row.idempotency_key,
    data: parseColumn(JsonObject, row.data, {
      table: 'run_log_entries',
      rowId: `${row.run_id}#${row.seq}`,
      field: 'data',
    }),
  };
}

export interface AppendRunLogInput {
  readonly runId: string;
  readonly kind: RunLogKind;
  readonly data?: JsonObject;
  /**
   * Makes the append idempotent: a second append with the same key for the same run returns the
   * first entry (activities are retried). E.g. `task_created:{taskIdempotencyKey}`.
   */
  readonly idempotencyKey?: string;
  readonly at?: Date;
}

/**
 * Append an entry with the run's next sequence number. Concurrent appends to one run are
 * serialized by a row lock on the run (`FOR NO KEY UPDATE`, which does not block inserts that
 * reference the run), so sequences are unique and gap-free.
 */
export async function appendRunLog(db: Executor, input: AppendRunLogInput): Promise<RunLogEntryRecord> {
  return inTransaction(db, async (trx) => {
    const run = isUuid(input.runId)
      ? await trx
          .selectFrom('runs')
          .select(['id', 'definition_id'])
          .where('id', '=', input.runId)
          .forNoKeyUpdate()
          .executeTakeFirst()
      : undefined;
    if (!run) throw new NotFoundError({ entity: 'run', id: input.runId });
    if (input.idempotencyKey !== undefined) {
      const existing = await trx
        .selectFrom('run_log_entries')
        .selectAll()
        .where('run_id', '=', input.runId)
        .where('idempotency_key', '=', input.idempotencyKey)
        .executeTakeFirst();
      if (existing) return toEntry(existing);
    }
    const row = await trx
      .insertInto('run_log_entries')
      .values({
        run_id: input.runId,
        seq: sql<number>`(select coalesce(max(seq), 0) + 1 from run_log_entries where run_id = ${input.runId})`,
        definition_id: run.definition_id,
        kind: input.kind,
        idempotency_key: input.idempotencyKey ?? null,
        data: toJson(input.data ?? {}),
        ...(input.at ? { at: input.at } : {}),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toEntry(row);
  });
}

export interface ReadRunLogOptions {
  /** Only entries with seq > afterSeq. */
  readonly afterSeq?: number;
  readonly limit?: number;
}

/** A run's entries in sequence order. */
export async function readRunLog(
  db: Executor,
  runId: string,
  options: ReadRunLogOptions = {},
): Promise<RunLogEntryRecord[]> {
  if (!isUuid(runId)) return [];
  let q = db.selectFrom('run_log_entries').selectAll().where('run_id', '=', runId);
  if (options.afterSeq !== undefined) q = q.where('seq', '>', options.afterSeq);
  if (options.limit !== undefined) q = q.limit(pageSize(options.limit));
  const rows = await q.orderBy('seq', 'asc').execute();
  return rows.map(toEntry);
}

export interface ListDefinitionRunLogFilter extends PageRequest {
  readonly kinds?: readonly RunLogKind[];
}

const DEFINITION_LOG_LIST = 'definition-log';

/** Entries of every run of a definition, newest first, keyset-paginated on (at, run_id, seq). */
export async function listDefinitionRunLog(
  db: Executor,
  definitionId: string,
  filter: ListDefinitionRunLogFilter = {},
): Promise<Page<RunLogEntryRecord>> {
  const limit = pageSize(filter.limit);
  if (!isUuid(definitionId)) return { items: [], nextCursor: null };
  let q = db.selectFrom('run_log_entries').selectAll().where('definition_id', '=', definitionId);
  if (filter.kinds !== undefined) {
    if (filter.kinds.length === 0) return { items: [], nextCursor: null };
    q = q.where('kind', 'in', filter.kinds);
  }
  if (filter.cursor) {
    const parts = decodeCursor(DEFINITION_LOG_LIST, filter.cursor);
    const [t, runId, seq] = parts;
    if (
      parts.length !== 3 ||
      typeof t !== 'number' ||
      typeof runId !== 'string' ||
      !isUuid(runId) ||
      typeof seq !== 'number'
    ) {
      throw new InvalidCursorError({ cursor: filter.cursor });
    }
    q = q.where((eb) => eb(eb.refTuple('at', 'run_id', 'seq'), '<', eb.tuple(new Date(t), runId, seq)));
  }
  const rows = await q
    .orderBy('at', 'desc')
    .orderBy('run_id', 'desc')
    .orderBy('seq', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, toEntry, (r) => encodeCursor(DEFINITION_LOG_LIST, [r.at.getTime(), r.run_id, r.seq]));
}
