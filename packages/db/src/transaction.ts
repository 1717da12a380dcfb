import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

/** The application's database handle (what `createDb` returns). */
export type Db = Kysely<Database>;

/** A connection or a transaction: every repository function takes one of these first. */
export type Executor = Kysely<Database> | Transaction<Database>;

/** Run `fn` in a transaction, or inside the caller's transaction when `db` already is one. */
export async function inTransaction<T>(db: Executor, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<Database>);
  return db.transaction().execute(fn);
}
