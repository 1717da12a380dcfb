import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import type { Database } from './schema.ts';
import type { Db } from './transaction.ts';

/**
 * Connection settings. `url` is a `postgres://` URL (`DATABASE_URL`); the rest bound the pool
 * and every statement so a stuck query or an idle transaction cannot hold a connection forever.
 */
export const DbConfig = z.object({
  url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL'),
  poolMax: z.number().int().min(1).max(1000).default(10),
  statementTimeoutMs: z.number().int().min(0).default(30_000),
  idleInTransactionTimeoutMs: z.number().int().min(0).default(60_000),
  idleTimeoutMs: z.number().int().min(0).default(10_000),
  connectionTimeoutMs: z.number().int().min(0).default(5_000),
  applicationName: z.string().min(1).max(63).default('activity-core'),
});
export type DbConfig = z.infer<typeof DbConfig>;
export type DbConfigInput = z.input<typeof DbConfig>;

const { builtins } = pg.types;

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} does not fit a JavaScript number`);
  return n;
}

/**
 * Type parsers, chosen on purpose and set per pool (never globally on `pg.types`):
 * - `timestamptz` → `Date`. Every timestamp column is `timestamptz(3)`, so a `Date` holds the
 *   stored value exactly and keyset cursors built from it compare equal in SQL.
 * - `int8` (`count(*)`, sums, the definitions revision) → `number`; a value beyond 2^53 throws
 *   instead of losing digits.
 * - `numeric` → `string` (pg's default, kept explicit): no silent float rounding.
 * - `timestamp` without time zone → rejected: the schema never uses it, and pg would read it in
 *   the process's local zone.
 */
export const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === undefined || format === 'text') {
      switch (oid) {
        case builtins.INT8:
          return parseInt8;
        case builtins.NUMERIC:
          return (value: string) => value;
        case builtins.TIMESTAMPTZ:
          return pg.types.getTypeParser(builtins.TIMESTAMPTZ, 'text');
        case builtins.TIMESTAMP:
          return (value: string) => {
            throw new TypeError(`timestamp without time zone is not used by this schema (got ${value})`);
          };
        default:
          break;
      }
    }
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface CreateDbOptions {
  /** Errors of idle pooled connections (server restart, network). Without a listener they crash the process. */
  readonly onPoolError?: (error: Error) => void;
}

/**
 * A kysely instance on a `pg` pool configured from `DbConfig`. Close it with `db.destroy()`.
 *
 * @example
 * const db = createDb({ url: process.env.DATABASE_URL });
 * await migrateToLatest(db);
 */
export function createDb(config: DbConfigInput, options: CreateDbOptions = {}): Db {
  const c = DbConfig.parse(config);
  const pool = new pg.Pool({
    connectionString: c.url,
    max: c.poolMax,
    idleTimeoutMillis: c.idleTimeoutMs,
    connectionTimeoutMillis: c.connectionTimeoutMs,
    statement_timeout: c.statementTimeoutMs === 0 ? false : c.statementTimeoutMs,
    idle_in_transaction_session_timeout: c.idleInTransactionTimeoutMs,
    application_name: c.applicationName,
    types: typeParsers,
  });
  const onError =
    options.onPoolError ??
    ((error: Error) => {
      process.stderr.write(`[db] connection error: ${error.message}\n`);
    });
  pool.on('error', onError);
  // pg-pool listens only on idle clients. A checked-out client whose connection drops
  // (PostgreSQL restarted mid-transaction) would emit an unhandled 'error' and kill the
  // process; with this listener the query rejects, the caller retries, and the pool drops
  // the dead client when it is released.
  pool.on('connect', (client) => client.on('error', onError));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
