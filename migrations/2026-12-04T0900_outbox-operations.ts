import { type Kysely, sql } from 'kysely';

// Outbox operations. Published rows are pruned after a retention (the relay's
// `AC_OUTBOX_RETENTION_MS`): an index finds the old ones without reading the table (the pending
// rows have their own partial indexes). An operator may skip a row that can never be published
// (`outbox.skip`): it is marked published, and who skipped it and why is kept with it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index outbox_published_idx on outbox (published_at) where published_at is not null`.execute(db);
  await sql`
    alter table outbox
      add column skipped_at timestamptz(3),
      add column skipped_by text check (length(skipped_by) between 1 and 200),
      add column skip_reason text check (length(skip_reason) between 1 and 2000)
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outbox drop column if exists skipped_at, drop column if exists skipped_by, drop column if exists skip_reason`.execute(
    db,
  );
  await sql`drop index if exists outbox_published_idx`.execute(db);
}
