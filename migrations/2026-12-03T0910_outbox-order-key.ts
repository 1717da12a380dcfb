import { type Kysely, sql } from 'kysely';

// Per-key publish order. A row whose publish failed waits out its backoff while rows written
// after it are due at once, and several relays publish side by side, so claim order alone let
// a task's `completed` reach NATS before its `created`. Rows now carry an order key (the task
// id for task events): a row is claimable only when no earlier unpublished row has its key.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outbox add column order_key text check (length(order_key) between 1 and 200)`.execute(db);
  await sql`create index outbox_order_key_idx on outbox (order_key, seq) where published_at is null and order_key is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists outbox_order_key_idx`.execute(db);
  await sql`alter table outbox drop column if exists order_key`.execute(db);
}
