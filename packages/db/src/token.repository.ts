import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Selectable, sql } from 'kysely';
import { NotFoundError } from './errors.ts';
import type { ApiTokensTable } from './schema.ts';
import type { Executor } from './transaction.ts';
import { isUuid, newId } from './uuid.ts';

/** A token as stored: never the secret, never its hash. */
export interface ApiTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

function toToken(row: Selectable<ApiTokensTable>): ApiTokenRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

const TOKEN_PREFIX = 'act';
// act_<32 hex of the id>_<43 base64url chars of 32 random bytes>
const TOKEN_FORMAT = /^act_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function idFromHex(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface CreateApiTokenInput {
  readonly name: string;
  readonly scopes?: readonly string[];
  readonly expiresAt?: Date | null;
}

/**
 * Create a token. The returned `secret` (the bearer token) is shown once: only its sha256 is
 * stored. Format: `act_<token id>_<random>`, so verification looks the row up by id and compares
 * hashes in constant time.
 */
export async function createApiToken(
  db: Executor,
  input: CreateApiTokenInput,
): Promise<{ token: ApiTokenRecord; secret: string }> {
  const id = newId();
  const secret = `${TOKEN_PREFIX}_${id.replaceAll('-', '')}_${randomBytes(32).toString('base64url')}`;
  const row = await db
    .insertInto('api_tokens')
    .values({
      id,
      name: input.name,
      token_hash: hashToken(secret),
      scopes: [...(input.scopes ?? [])],
      expires_at: input.expiresAt ?? null,
      last_used_at: null,
      revoked_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token: toToken(row), secret };
}

/** How stale `last_used_at` may get before a verify writes it again (saves a write per request). */
const LAST_USED_RESOLUTION_MS = 60_000;

const DUMMY_HASH = hashToken('act_dummy');

/**
 * The token's record if `secret` is a valid, unrevoked, unexpired token, else `null`. Hashes are
 * compared with `timingSafeEqual`, also when the id is unknown, so timing does not tell which
 * part was wrong. Updates `last_used_at` (at most once a minute per token).
 */
export async function verifyApiToken(
  db: Executor,
  secret: string,
  now: Date = new Date(),
): Promise<ApiTokenRecord | null> {
  const match = TOKEN_FORMAT.exec(secret);
  const presented = hashToken(secret);
  if (!match?.[1]) {
    timingSafeEqual(presented, DUMMY_HASH);
    return null;
  }
  const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', idFromHex(match[1])).executeTakeFirst();
  const equal = timingSafeEqual(presented, row ? row.token_hash : DUMMY_HASH);
  if (!row || !equal) return null;
  if (row.revoked_at !== null && row.revoked_at <= now) return null;
  if (row.expires_at !== null && row.expires_at <= now) return null;
  if (row.last_used_at === null || now.getTime() - row.last_used_at.getTime() >= LAST_USED_RESOLUTION_MS) {
    const updated = await db
      .updateTable('api_tokens')
      .set({ last_used_at: now })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirst();
    if (updated) return toToken(updated);
  }
  return toToken(row);
}

/** Revoke a token (idempotent: the first revocation time is kept). */
export async function revokeApiToken(db: Executor, id: string): Promise<ApiTokenRecord> {
  const row = isUuid(id)
    ? await db
        .updateTable('api_tokens')
        .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst()
    : undefined;
  if (!row) throw new NotFoundError({ entity: 'api token', id });
  return toToken(row);
}

/** All tokens, newest first (including revoked ones, which say so). */
export async function listApiTokens(db: Executor): Promise<ApiTokenRecord[]> {
  const rows = await db
    .selectFrom('api_tokens')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(toToken);
}
