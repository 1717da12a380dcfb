import { type Database, DbConfig, type DbConfigInput, typeParsers } from '@activity-core/db';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/**
 * `createDb` of @activity-core/db, plus an error listener on every client while it is checked
 * out. pg-pool only listens on idle clients; a checked-out client whose connection drops
 * (PostgreSQL restarted mid-transaction) emits an unhandled 'error' that kills the process.
 * With the listener the failed query rejects, the activity retries, and pg-pool drops the dead
 * client on release. TODO(db): fold into createDb and remove this copy.
 */
export function createWorkerDb(config: DbConfigInput, onError: (error: Error) => void): Kysely<Database> {
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
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
