import { type Kysely, sql } from 'kysely';

// Following the whole run log (`runs.follow` without a definition) reads the entries of the
// last minutes by `at`; the definition index cannot serve that.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists run_log_entries_at_idx on run_log_entries (at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists run_log_entries_at_idx`.execute(db);
}
