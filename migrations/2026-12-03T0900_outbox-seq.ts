import { type Kysely, sql } from 'kysely';

// The outbox's write order from a sequence. Rows written in one transaction share `created_at`
// (the transaction's now()), and their UUIDv7 ids tie on the millisecond and then sort by their
// random bits, so (created_at, id) did not say in which order they were written. An identity
// column does: the relay claims and publishes by it. Existing rows are numbered as they lie.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outbox add column seq bigint generated always as identity`.execute(db);
  await sql`create index outbox_pending_seq_idx on outbox (next_attempt_at, seq) where published_at is null`.execute(
    db,
  );
  await sql`drop index if exists outbox_pending_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists outbox_pending_idx on outbox (next_attempt_at, id) where published_at is null`.execute(
    db,
  );
  await sql`drop index if exists outbox_pending_seq_idx`.execute(db);
  await sql`alter table outbox drop column if exists seq`.execute(db);
}
