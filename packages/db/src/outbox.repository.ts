import { CompiledQuery, type Selectable, sql } from 'kysely';
import { ConflictError, CorruptRowError, NotFoundError } from './errors.ts';
import { parseColumn, toJson } from './json.ts';
import type { OutboxTable } from './schema.ts';
import type { Executor } from './transaction.ts';
import { newId } from './uuid.ts';
import { JsonValue, OutboxHeaders } from './values.ts';

/** A message to publish to NATS after the transaction that wrote it commits. */
export interface NewOutboxMessage {
  readonly subject: string;
  readonly headers?: OutboxHeaders;
  /** JSON body (a CloudEvent for `tasks.*`); the relay publishes `JSON.stringify(body)`. */
  readonly body: JsonValue;
  /** Defaults to a new UUIDv7; it becomes the `Nats-Msg-Id`. */
  readonly id?: string;
  /**
   * Rows with the same key are published in write order, each only after the one before it
   * (the task id for a task's events: its `created` is never overtaken by its `completed`).
   * Rows without one are ordered by their claim only.
   */
  readonly orderKey?: string;
}

export interface OutboxRecord {
  /** Publish with this as `Nats-Msg-Id` so JetStream drops a repeat. */
  readonly id: string;
  readonly subject: string;
  readonly headers: OutboxHeaders;
  readonly body: JsonValue;
  readonly createdAt: Date;
  readonly publishedAt: Date | null;
  /** Claims so far, including the current one. */
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: Date;
  /** Write order: rows are published in it (see the `2026-12-03T0900_outbox-seq` migration). */
  readonly seq: bigint;
  readonly orderKey: string | null;
}

function toOutbox(row: Selectable<OutboxTable>): OutboxRecord {
  const where = (field: string) => ({ table: 'outbox', rowId: row.id, field });
  return {
    id: row.id,
    subject: row.subject,
    headers: parseColumn(OutboxHeaders, row.headers, where('headers')),
    body: parseColumn(JsonValue, row.body, where('body')),
    createdAt: row.created_at,
    publishedAt: row.published_at,
    attempts: row.attempts,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    seq: BigInt(row.seq),
    orderKey: row.order_key,
  };
}

/** Write messages in the caller's transaction, in this order (their `seq`). Returns their ids in order. */
export async function enqueueOutbox(db: Executor, messages: readonly NewOutboxMessage[]): Promise<string[]> {
  if (messages.length === 0) return [];
  const values = messages.map((m) => ({
    id: m.id ?? newId(),
    subject: m.subject,
    headers: toJson(m.headers ?? {}),
    body: toJson(m.body),
    order_key: m.orderKey ?? null,
  }));
  await db.insertInto('outbox').values(values).execute();
  return values.map((v) => v.id);
}

export interface ClaimOutboxOptions {
  readonly limit?: number;
  /**
   * How long the claim holds: the rows are invisible to other relays until then. A relay that
   * dies mid-batch loses its rows to the next claim after the lease. Default 30 s.
   */
  readonly leaseMs?: number;
  /**
   * Called for a claimed row whose headers or body no longer parse. The row is not returned (a
   * bad row must not block the batch); it stays in the outbox with the error recorded and is
   * retried after the maximum backoff, so `outboxStats().failing` shows it to an operator.
   */
  readonly onCorrupt?: (error: CorruptRowError) => void;
}

/**
 * Claim up to `limit` due, unpublished rows, oldest due first, returned in write order (`seq`). Rows are picked with
 * `FOR UPDATE SKIP LOCKED` and leased in the same statement (attempts + 1, next_attempt_at =
 * now + lease), so concurrent relays never get the same row while the lease lasts.
 */
export async function claimOutboxBatch(db: Executor, options: ClaimOutboxOptions = {}): Promise<OutboxRecord[]> {
  return prepareOutboxClaim(db, options)();
}

/**
 * {@link claimOutboxBatch} with its statement built and compiled once: a relay claims with the
 * same options every round (and every idle poll), so each claim is one execute.
 */
export function prepareOutboxClaim(db: Executor, options: ClaimOutboxOptions = {}): () => Promise<OutboxRecord[]> {
  const limit = Math.max(1, Math.min(1000, options.limit ?? 100));
  const leaseMs = Math.max(1, options.leaseMs ?? 30_000);
  const statement = db
    .updateTable('outbox')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`,
      leased_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`,
    }))
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('outbox')
        .select('id')
        .where('published_at', 'is', null)
        .where('next_attempt_at', '<=', sql<Date>`now()`)
        // Not while an earlier row of its key is unpublished (backing off, or claimed by a
        // relay right now): that one goes first.
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('outbox as earlier')
                .select(sql`1`.as('one'))
                .whereRef('earlier.order_key', '=', 'outbox.order_key')
                .whereRef('earlier.seq', '<', 'outbox.seq')
                .where('earlier.published_at', 'is', null),
            ),
          ),
        )
        .orderBy('next_attempt_at')
        .orderBy('seq')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .compile();
  return async () => {
    const { rows } = await db.executeQuery(statement);
    const claimed: OutboxRecord[] = [];
    for (const row of rows) {
      try {
        claimed.push(toOutbox(row));
      } catch (error) {
        if (!(error instanceof CorruptRowError)) throw error;
        await recordOutboxFailure(db, { id: row.id, error: error.message, retryInMs: PARK_MS });
        options.onCorrupt?.(error);
      }
    }
    return claimed.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  };
}

const PARK_MS = 300_000;

/** Mark rows published (after JetStream acknowledged them). Already published rows keep their first time. */
export async function markOutboxPublished(db: Executor, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  // One array parameter: the same statement text for any number of rows, and no query building.
  const result = await db.executeQuery(CompiledQuery.raw(MARK_PUBLISHED, [ids]));
  return Number(result.numAffectedRows ?? 0n);
}

const MARK_PUBLISHED =
  'update outbox set published_at = now(), last_error = null, leased_until = null where id = any($1::uuid[]) and published_at is null';

export interface OutboxFailure {
  readonly id: string;
  readonly error: string;
  /** When the row may be claimed again: the caller's backoff (the relay's is jittered). */
  readonly retryInMs: number;
}

/**
 * Record a failed publish and when to try the row again. Rows are never dropped: they stay
 * visible, with the error, until published.
 */
export async function recordOutboxFailure(db: Executor, failure: OutboxFailure): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      last_error: failure.error.slice(0, 4000),
      leased_until: null,
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${Math.max(0, failure.retryInMs)}::float8 / 1000)`,
    })
    .where('id', '=', failure.id)
    .where('published_at', 'is', null)
    .execute();
}

export interface PruneOutboxOptions {
  /** Published rows older than this go. */
  readonly olderThanMs: number;
  /** Rows deleted at most by this call (default 1000, at most 10,000). */
  readonly limit?: number;
}

/**
 * Delete published rows published more than `olderThanMs` ago, oldest first, up to `limit`;
 * returns how many went. A published row has done its job (JetStream holds the event, and its
 * duplicate window the id): it is kept a while only to be read back. Unpublished rows are never
 * touched, nor skipped ones (the record of an operator's decision). Rows another pruner is deleting are skipped, so relays side by side do not wait.
 */
export async function pruneOutbox(db: Executor, options: PruneOutboxOptions): Promise<number> {
  const limit = Math.max(1, Math.min(10_000, options.limit ?? 1000));
  const result = await db
    .deleteFrom('outbox')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('outbox')
        .select('id')
        .where('published_at', 'is not', null)
        .where('skipped_at', 'is', null)
        .where(
          'published_at',
          '<',
          sql<Date>`now() - make_interval(secs => ${Math.max(0, options.olderThanMs)}::float8 / 1000)`,
        )
        .orderBy('published_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface OutboxStats {
  readonly pending: number;
  readonly failing: number;
  readonly oldestPendingAt: Date | null;
}

/** Backlog figures for metrics and readiness. */
export async function outboxStats(db: Executor): Promise<OutboxStats> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => [
      eb.fn.countAll<number>().as('pending'),
      eb.fn.count<number>('last_error').as('failing'),
      eb.fn.min('created_at').as('oldest'),
    ])
    .where('published_at', 'is', null)
    .executeTakeFirstOrThrow();
  return { pending: row.pending, failing: row.failing, oldestPendingAt: row.oldest ?? null };
}

/** A row as an operator sees it: where it goes, how it fared, what holds it (no body). */
export interface OutboxEntry {
  readonly id: string;
  /** Write order (a bigint, as a decimal string). */
  readonly seq: string;
  readonly subject: string;
  readonly orderKey: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly createdAt: Date;
  /** When a relay may claim it next (after its backoff). */
  readonly nextAttemptAt: Date;
  /** Set while a relay holds the row (publishing it right now); retry and skip wait for it. */
  readonly leasedUntil: Date | null;
  /** The earlier unpublished row of its order key it waits for, if any (that one goes first). */
  readonly waitingFor: string | null;
  /** Skipped rows only: when, by whom and why (`skipOutboxRow`). */
  readonly skipped: { readonly at: Date; readonly by: string; readonly reason: string } | null;
}

/** Which rows: unpublished ones, those of them whose last publish failed, or the skipped ones. */
export type OutboxListState = 'pending' | 'failing' | 'skipped';

export interface ListOutboxRequest {
  /** Default `pending`. */
  readonly state?: OutboxListState;
  /** Rows after this `seq` (the previous page's `nextSeq`). */
  readonly afterSeq?: string;
  /** 1–500, default 50. */
  readonly limit?: number;
}

/** The earlier unpublished row of the same order key that `outbox` waits for, or null. */
const waitingFor = sql<string | null>`(
  select earlier.id from outbox earlier
  where earlier.order_key = outbox.order_key and earlier.seq < outbox.seq and earlier.published_at is null
  order by earlier.seq limit 1
)`;

/** Rows of one state in write order, a page at a time. */
export async function listOutbox(
  db: Executor,
  request: ListOutboxRequest = {},
): Promise<{ items: OutboxEntry[]; nextSeq: string | null }> {
  const limit = Math.max(1, Math.min(500, request.limit ?? 50));
  const state = request.state ?? 'pending';
  let query = db
    .selectFrom('outbox')
    .select([
      'id',
      'seq',
      'subject',
      'order_key',
      'attempts',
      'last_error',
      'created_at',
      'next_attempt_at',
      'leased_until',
      'skipped_at',
      'skipped_by',
      'skip_reason',
      sql<string | null>`case when published_at is null then ${waitingFor} end`.as('waiting_for'),
      sql<boolean>`coalesce(leased_until > now(), false)`.as('leased'),
    ])
    .orderBy('seq')
    .limit(limit + 1);
  query = state === 'skipped' ? query.where('skipped_at', 'is not', null) : query.where('published_at', 'is', null);
  if (state === 'failing') query = query.where('last_error', 'is not', null);
  if (request.afterSeq !== undefined) query = query.where('seq', '>', request.afterSeq);
  const rows = await query.execute();
  const items = rows.slice(0, limit).map(
    (row): OutboxEntry => ({
      id: row.id,
      seq: String(row.seq),
      subject: row.subject,
      orderKey: row.order_key,
      attempts: row.attempts,
      lastError: row.last_error,
      createdAt: row.created_at,
      nextAttemptAt: row.next_attempt_at,
      leasedUntil: row.leased ? row.leased_until : null,
      waitingFor: row.waiting_for ?? null,
      skipped:
        row.skipped_at !== null
          ? { at: row.skipped_at, by: row.skipped_by ?? '', reason: row.skip_reason ?? '' }
          : null,
    }),
  );
  return { items, nextSeq: rows.length > limit ? (items.at(-1)?.seq ?? null) : null };
}

/** Unpublished, not held by a relay, and first of its order key: what retry and skip may touch. */
const pendingAndFree = sql<boolean>`published_at is null
  and (leased_until is null or leased_until <= now())
  and ${waitingFor} is null`;

/**
 * Make an unpublished row due now (an operator fixed what failed it, and will not wait out its
 * backoff). Throws NotFoundError, or ConflictError: `published` (published or skipped already),
 * `in_flight` (a relay is publishing it right now: wait for its lease), `waiting` (an earlier
 * row of its order key goes first: retry or skip that one).
 */
export async function retryOutboxRowNow(db: Executor, id: string): Promise<void> {
  const result = await db
    .updateTable('outbox')
    .set({ next_attempt_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where(pendingAndFree)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) await throwWhyNotFree(db, id);
}

export interface SkipOutboxRow {
  readonly id: string;
  /** Who skipped it (the API token's name). */
  readonly by: string;
  readonly reason: string;
}

/**
 * Give up on an unpublished row: it is marked published without being sent, with who skipped
 * it and why (kept: pruning leaves skipped rows alone), so the later rows of its order key go.
 * Throws as {@link retryOutboxRowNow} does. A row a relay holds is refused (`in_flight`): a skip
 * never releases a task's next event while this one may still reach the stream.
 */
export async function skipOutboxRow(db: Executor, skip: SkipOutboxRow): Promise<void> {
  const result = await db
    .updateTable('outbox')
    .set({
      published_at: sql<Date>`now()`,
      skipped_at: sql<Date>`now()`,
      skipped_by: skip.by.slice(0, 200),
      skip_reason: skip.reason.slice(0, 2000),
    })
    .where('id', '=', skip.id)
    .where(pendingAndFree)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) await throwWhyNotFree(db, skip.id);
}

async function throwWhyNotFree(db: Executor, id: string): Promise<never> {
  const row = await db
    .selectFrom('outbox')
    .select([sql<boolean>`published_at is not null`.as('published'), waitingFor.as('waiting_for')])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError({ entity: 'outbox row', id });
  if (row.published) throw new ConflictError({ entity: 'outbox row', id, reason: 'published' });
  if (row.waiting_for !== null) {
    throw new ConflictError({ entity: 'outbox row', id, reason: 'waiting', field: row.waiting_for });
  }
  throw new ConflictError({ entity: 'outbox row', id, reason: 'in_flight' });
}
