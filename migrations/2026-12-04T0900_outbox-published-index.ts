import { type Kysely, sql } from 'kysely';

// Published rows are pruned after a retention (the relay's `AC_OUTBOX_RETENTION_MS`): this index
// finds the old ones without reading the table. The pending rows have their own partial indexes.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index outbox_published_idx on outbox (published_at) where published_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists outbox_published_idx`.execute(db);
}
