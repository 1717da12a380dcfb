import { type SelectQueryBuilder, sql } from 'kysely';
import { InvalidCursorError } from './errors.ts';
import { isUuid } from './uuid.ts';

/** One page of a keyset-paginated list. `nextCursor` is null on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export interface PageRequest {
  /** 1..500, default 50. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isFinite(limit)) return DEFAULT_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.trunc(limit)));
}

/** Position after the last row of a page ordered by (time desc, id desc). */
export interface TimeCursor {
  readonly t: Date;
  readonly id: string;
}

// Cursors carry a list tag so a cursor of one list is rejected by another instead of silently
// paging through the wrong order.
export function encodeCursor(list: string, parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([list, ...parts]), 'utf8').toString('base64url');
}

export function decodeCursor(list: string, cursor: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidCursorError({ cursor }, { cause });
  }
  if (!Array.isArray(parsed) || parsed[0] !== list) throw new InvalidCursorError({ cursor });
  return parsed.slice(1);
}

export function encodeTimeCursor(list: string, c: TimeCursor): string {
  return encodeCursor(list, [c.t.getTime(), c.id]);
}

export function decodeTimeCursor(list: string, cursor: string): TimeCursor {
  const parts = decodeCursor(list, cursor);
  const [t, id] = parts;
  if (
    parts.length !== 2 ||
    typeof t !== 'number' ||
    !Number.isSafeInteger(t) ||
    typeof id !== 'string' ||
    !isUuid(id)
  ) {
    throw new InvalidCursorError({ cursor });
  }
  return { t: new Date(t), id };
}

/** Cut a result fetched with `limit + 1` rows into a page. */
export function toPage<R, T>(
  rows: readonly R[],
  limit: number,
  map: (row: R) => T,
  cursorOf: (row: R) => string,
): Page<T> {
  const hasMore = rows.length > limit;
  const kept = hasMore ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: hasMore && last !== undefined ? cursorOf(last) : null };
}

/**
 * The newest-first page of a list keyset-paginated on (created_at, id): the rows after the
 * request's cursor, ordered by both descending, cut at the page size, with the next page's
 * cursor. Runs and tasks are listed this way; `list` tags the cursor with its list.
 */
export async function newestFirstPage<DB, TB extends keyof DB, O extends { created_at: Date; id: string }, T>(
  query: SelectQueryBuilder<DB, TB, O>,
  list: string,
  request: PageRequest,
  map: (row: O) => T,
): Promise<Page<T>> {
  const limit = pageSize(request.limit);
  let q = query;
  if (request.cursor) {
    const c = decodeTimeCursor(list, request.cursor);
    q = q.where(sql<boolean>`(created_at, id) < (${c.t}, ${c.id})`);
  }
  const rows = await q
    .orderBy(sql`created_at desc`)
    .orderBy(sql`id desc`)
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, map, (r) => encodeTimeCursor(list, { t: r.created_at, id: r.id }));
}
