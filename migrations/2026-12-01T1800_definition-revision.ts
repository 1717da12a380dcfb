import { type Kysely, sql } from 'kysely';

// Read-your-writes for ingest: every write of a definition takes the next value of one
// installation-wide revision, in commit order, so a reader that sees revision R sees every
// definition write up to R, and `definitions.revision > R` finds exactly what changed since.
//
// Why a single row updated under its row lock, and not a sequence: a sequence hands out values
// in the order transactions ask, not the order they commit (T1 takes 10, T2 takes 11, T2
// commits first: a reader sees 11 without 10 and would skip 10 for good). Here T2's update of
// the row waits until T1 has committed, and PostgreSQL makes T1 visible before it releases that
// lock, so revision order is commit-visibility order. The price: definition writes are
// serialized on this row from their first definition write to their commit (they are short and
// rare). Snapshot-xmin ordering (`pg_snapshot_xmin`, xid8) was the other candidate: it holds a
// change back while any older transaction anywhere in the database is open, so an unrelated
// long transaction would delay every event that needs a new definition.
//
// A transaction that writes several definitions must write them in one consistent order (or
// lock this row first), as with any two row locks, or it can deadlock with another writer.
// A delete leaves no row to find: it moves `reset_revision`, and a reader behind that reloads.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table definition_revision (
      singleton boolean primary key default true check (singleton),
      revision bigint not null default 0 check (revision >= 0),
      reset_revision bigint not null default 0 check (reset_revision >= 0)
    )`.execute(db);
  await sql`insert into definition_revision default values`.execute(db);

  await sql`alter table definitions add column revision bigint not null default 0`.execute(db);
  await sql`create index definitions_revision_idx on definitions (revision)`.execute(db);

  await sql`
    create function ac_definition_revision() returns trigger language plpgsql as $$
    declare
      next bigint;
    begin
      update definition_revision
         set revision = revision + 1,
             reset_revision = case when tg_op = 'DELETE' then revision + 1 else reset_revision end
      returning revision into next;
      if tg_op = 'DELETE' then
        return old;
      end if;
      new.revision := next;
      return new;
    end $$`.execute(db);
  await sql`
    create trigger definitions_revision before insert or update or delete on definitions
    for each row execute function ac_definition_revision()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger if exists definitions_revision on definitions`.execute(db);
  await sql`drop function if exists ac_definition_revision()`.execute(db);
  await sql`drop index if exists definitions_revision_idx`.execute(db);
  await sql`alter table definitions drop column if exists revision`.execute(db);
  await sql`drop table if exists definition_revision`.execute(db);
}
