import { JsonObject } from '@activity-core/core';
import { CompiledQuery, type Selectable, sql } from 'kysely';
import { InvalidCursorError, NotFoundError, PG_UNIQUE_VIOLATION, pgErrorCode } from './errors.ts';
import { parseColumn, toJson } from './json.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest, pageSize, toPage } from './pagination.ts';
import type { RunLogEntriesTable, RunLogKind } from './schema.ts';
import { type Db, type Executor, inTransaction } from './transaction.ts';
import { isUuid } from './uuid.ts';

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

export interface NewRunLogEntry {
  readonly kind: RunLogKind;
  readonly data?: JsonObject;
  /** As for {@link appendRunLog}: an entry whose key the run already has is not written again. */
  readonly idempotencyKey: string;
}

/**
 * Appends several entries to one run in order: the run row is locked once (as in
 * {@link appendRunLog}), then one statement skips the entries whose idempotency key the run
 * already has and writes the rest with the next sequence numbers. Returns how many were written.
 */
export async function appendRunLogEntries(
  db: Executor,
  runId: string,
  entries: readonly NewRunLogEntry[],
): Promise<number> {
  if (entries.length === 0) return 0;
  return inTransaction(db, async (trx) => {
    const run = isUuid(runId)
      ? await trx
          .selectFrom('runs')
          .select(['id', 'definition_id'])
          .where('id', '=', runId)
          .forNoKeyUpdate()
          .executeTakeFirst()
      : undefined;
    if (!run) throw new NotFoundError({ entity: 'run', id: runId });
    return insertRunLogEntries(trx, runId, run.definition_id, entries);
  });
}

/**
 * The insert of {@link appendRunLogEntries}, for a caller whose transaction already holds the
 * run's row lock (`FOR NO KEY UPDATE`, or an update of the run row): that lock serializes
 * appends, and this statement's snapshot, taken after it, sees every entry committed before.
 * An entry whose key the run already has, or that repeats an earlier key of `entries`, is
 * skipped; the rest get `max(seq) + 1 …` in the order given.
 */
export async function insertRunLogEntries(
  trx: Executor,
  runId: string,
  definitionId: string,
  entries: readonly NewRunLogEntry[],
): Promise<number> {
  if (entries.length === 0) return 0;
  const result = await trx.executeQuery<{ appended: number }>(
    CompiledQuery.raw(INSERT_RUN_LOG_ENTRIES, [runId, definitionId, runLogEntriesParameter(entries)]),
  );
  return result.rows[0]?.appended ?? 0;
}

/** `entries` as the jsonb parameter {@link runLogEntriesCtes} reads. */
export function runLogEntriesParameter(entries: readonly NewRunLogEntry[]): string {
  return toJson(entries.map((e) => ({ kind: e.kind, key: e.idempotencyKey, data: e.data ?? {} })));
}

/**
 * The CTEs that append `entries` (a jsonb parameter, see {@link runLogEntriesParameter}) to the
 * run of the CTE `run` (columns `id`, `definition_id`; no row: nothing is appended), as
 * {@link insertRunLogEntries} does: keys the run already has, or that repeat an earlier entry,
 * are skipped, the rest numbered `max(seq) + 1 …` in the order given. Text, not kysely: the
 * statements that use it are fixed, so nothing is built per call.
 *
 * The seq and the keys are read in the statement's snapshot. When the run's lock is taken in
 * the same statement (an update of the run in a sibling CTE), an append that committed after
 * the snapshot and before the lock is not seen: the insert then collides with it on
 * (run_id, seq) or (run_id, idempotency_key) and fails ({@link isRunLogRace}); it never writes a
 * wrong seq. Such a caller retries the old way, lock first.
 */
export function runLogEntriesCtes(run: string, runId: string, entries: string): string {
  return `given as (
      select e ->> 'kind' as kind, e ->> 'key' as key, e -> 'data' as data, ord
      from jsonb_array_elements(${entries}::jsonb) with ordinality as t(e, ord)
    ),
    fresh as (
      select distinct on (key) kind, key, data, ord from given
      where not exists (
        select 1 from run_log_entries x where x.run_id = ${runId}::uuid and x.idempotency_key = given.key
      )
      order by key, ord
    ),
    logged as (
      insert into run_log_entries (run_id, seq, definition_id, kind, idempotency_key, data)
      select ${run}.id,
        (select coalesce(max(seq), 0) from run_log_entries where run_id = ${runId}::uuid) + row_number() over (order by ord),
        ${run}.definition_id, kind, key, data
      from fresh, ${run}
      returning seq
    )`;
}

const INSERT_RUN_LOG_ENTRIES = `
    with run as (select $1::uuid as id, $2::uuid as definition_id),
    ${runLogEntriesCtes('run', '$1', '$3')}
    select count(*)::integer as appended from logged`;

/**
 * A statement that appended run-log entries in the same statement as it took the run's lock
 * collided with an append it could not see (see {@link runLogEntriesCtes}).
 */
export function isRunLogRace(error: unknown): boolean {
  if (pgErrorCode(error) !== PG_UNIQUE_VIOLATION) return false;
  const constraint = (error as { constraint?: unknown }).constraint;
  return constraint === 'run_log_entries_pkey' || constraint === 'run_log_entries_idempotency_unique';
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

export interface FollowRunLogOptions {
  /** Only entries of this definition's runs. */
  readonly definitionId?: string;
  /** The previous call's `cursor`; absent: start now (entries already committed are not returned). */
  readonly cursor?: string | null;
  readonly limit?: number;
}

export interface FollowRunLogPage {
  /** Entries committed since the previous call, each exactly once. */
  readonly items: RunLogEntryRecord[];
  /** Pass to the next call. */
  readonly cursor: string;
  /** True when more entries are ready at once (the page was full). */
  readonly more: boolean;
}

const FOLLOW_LIST = 'follow-log';

/**
 * How long a transaction may take from its start (the entry's `at`) to its commit and still be
 * followed. Appends are short transactions; one that takes longer is not returned by
 * {@link followRunLog} (it is in `readRunLog` and `listDefinitionRunLog` as always).
 */
export const FOLLOW_MAX_TRANSACTION_MS = 10 * 60 * 1000;

interface FollowState {
  /** Snapshot (pg_snapshot text) of the entries already returned. */
  readonly seen: string;
  /** No entry not visible in `seen` has an `at` before this (ms since epoch). */
  readonly floor: number;
  /** While draining a backlog larger than a page: the snapshot it drains to, its floor and the last key returned. */
  readonly upTo?: {
    readonly snapshot: string;
    readonly floor: number;
    readonly after: readonly [string, string, number];
  };
}

const SNAPSHOT = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$/;

function decodeFollow(cursor: string): FollowState {
  const [state] = decodeCursor(FOLLOW_LIST, cursor);
  const s = state as Partial<FollowState> | undefined;
  const valid =
    typeof s === 'object' &&
    s !== null &&
    typeof s.seen === 'string' &&
    SNAPSHOT.test(s.seen) &&
    typeof s.floor === 'number' &&
    Number.isSafeInteger(s.floor) &&
    (s.upTo === undefined ||
      (typeof s.upTo.snapshot === 'string' &&
        SNAPSHOT.test(s.upTo.snapshot) &&
        Number.isSafeInteger(s.upTo.floor) &&
        Array.isArray(s.upTo.after) &&
        /^\d{1,20}$/.test(String(s.upTo.after[0])) &&
        isUuid(String(s.upTo.after[1])) &&
        Number.isSafeInteger(s.upTo.after[2])));
  if (!valid) throw new InvalidCursorError({ cursor });
  return s as FollowState;
}

const encodeFollow = (state: FollowState): string => encodeCursor(FOLLOW_LIST, [state as never]);

/**
 * Follows the run log as entries commit: each call returns the entries committed since the
 * previous one, exactly once and none missed, however appends interleave. Ordering by `at`
 * could not promise that (an entry's `at` is its transaction's start, and a transaction that
 * started earlier can commit later), so the cursor carries a PostgreSQL snapshot instead: an
 * entry is new when its inserting transaction was not visible in the previous call's snapshot.
 * Entries of a transaction that ran longer than {@link FOLLOW_MAX_TRANSACTION_MS} are not
 * followed, and appends must not run in subtransactions (savepoints), whose ids snapshots
 * do not list.
 */
export async function followRunLog(db: Db, options: FollowRunLogOptions = {}): Promise<FollowRunLogPage> {
  const limit = pageSize(options.limit);
  const state = options.cursor ? decodeFollow(options.cursor) : undefined;
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const now = await sql<{
        snapshot: string;
        now: Date;
      }>`select pg_current_snapshot()::text as snapshot, now() as now`
        .execute(trx)
        .then((r) => r.rows[0] as { snapshot: string; now: Date });
      const nowFloor = now.now.getTime() - FOLLOW_MAX_TRANSACTION_MS;
      if (!state) return { items: [], cursor: encodeFollow({ seen: now.snapshot, floor: nowFloor }), more: false };
      const upTo = state.upTo ?? { snapshot: now.snapshot, floor: nowFloor, after: undefined };
      // The entry's transaction id widened to 64 bits, anchored at the current snapshot's xmax:
      // every row this transaction sees was written by a transaction below it.
      const xid = sql`(pg_snapshot_xmax(pg_current_snapshot())::text::bigint - ((pg_snapshot_xmax(pg_current_snapshot())::text::bigint - e.xmin::text::bigint) % 4294967296 + 4294967296) % 4294967296)`;
      const after = upTo.after;
      const rows = await sql<Selectable<RunLogEntriesTable> & { xid: string }>`
        select * from (
          select e.*, ${xid}::text as xid, ${xid} as xid_n from run_log_entries e
          where e.at >= ${new Date(state.floor)}
            ${options.definitionId !== undefined ? sql`and e.definition_id = ${options.definitionId}` : sql``}
        ) e
        where not pg_visible_in_snapshot(e.xid::xid8, ${state.seen}::pg_snapshot)
          and pg_visible_in_snapshot(e.xid::xid8, ${upTo.snapshot}::pg_snapshot)
          ${after ? sql`and (e.xid_n, e.run_id, e.seq) > (${after[0]}::bigint, ${after[1]}::uuid, ${after[2]})` : sql``}
        order by e.xid_n, e.run_id, e.seq
        limit ${limit + 1}
      `.execute(trx);
      const page = rows.rows.slice(0, limit);
      const more = rows.rows.length > limit;
      const last = page[page.length - 1];
      const next: FollowState =
        more && last
          ? { ...state, upTo: { snapshot: upTo.snapshot, floor: upTo.floor, after: [last.xid, last.run_id, last.seq] } }
          : { seen: upTo.snapshot, floor: upTo.floor };
      return { items: page.map(toEntry), cursor: encodeFollow(next), more };
    });
}
