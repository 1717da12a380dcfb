import { type Kysely, sql } from 'kysely';

// Outbox operations:
// - Published rows are pruned after a retention (`AC_OUTBOX_RETENTION_MS`): an index finds the
//   old ones without reading the table. Skipped rows are kept (they are the record of an
//   operator's decision), so the index leaves them out.
// - Operators page the pending rows in write order (`outbox.list`): an index on `seq` for them.
// - A claim's lease is its own column (`leased_until`), so an operator's retry or skip can tell
//   a row a relay is publishing right now from one waiting out its backoff.
// - A skipped row (`outbox.skip`) is marked published, with who skipped it and why.
// Adding the nullable columns is a catalogue change; the two index builds read the table and
// block writes to it while they run (the migrator runs in one transaction, so not
// CONCURRENTLY): on a large outbox, run this migration in a maintenance window.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table outbox
      add column leased_until timestamptz(3),
      add column skipped_at timestamptz(3),
      add column skipped_by text,
      add column skip_reason text
  `.execute(db);
  await sql`create index outbox_published_idx on outbox (published_at) where published_at is not null and skipped_at is null`.execute(
    db,
  );
  await sql`create index outbox_pending_by_seq_idx on outbox (seq) where published_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists outbox_pending_by_seq_idx`.execute(db);
  await sql`drop index if exists outbox_published_idx`.execute(db);
  await sql`
    alter table outbox
      drop column if exists leased_until,
      drop column if exists skipped_at,
      drop column if exists skipped_by,
      drop column if exists skip_reason
  `.execute(db);
}
