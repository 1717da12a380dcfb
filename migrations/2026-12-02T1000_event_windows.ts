import { type Kysely, sql } from 'kysely';

// Event windows (issue 21): a run that waits for its window (`waiting`), windows that expire
// (`expired`) or are discarded (`cancelled`), the `window` trigger kind, the window's summary on
// the run, the run-log kinds `event_joined` and `window_closed`, and `run_events`: which run
// each event of a windowed definition joined, so an event joins at most one window, ever.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table runs drop constraint runs_status_check`.execute(db);
  await sql`
    alter table runs add constraint runs_status_check check (status in (
      'waiting', 'pending', 'running', 'succeeded', 'failed', 'skipped', 'coalesced', 'expired', 'cancelled'
    ))`.execute(db);
  await sql`alter table runs drop constraint runs_finished_at`.execute(db);
  await sql`
    alter table runs add constraint runs_finished_at check (
      (status in ('succeeded', 'failed', 'skipped', 'coalesced', 'expired', 'cancelled')) = (finished_at is not null)
    )`.execute(db);
  await sql`alter table runs drop constraint runs_trigger_kind_check`.execute(db);
  await sql`
    alter table runs add constraint runs_trigger_kind_check
      check (trigger_kind in ('event', 'cron', 'manual', 'window'))`.execute(db);
  await sql`
    alter table runs add column "window" jsonb check ("window" is null or jsonb_typeof("window") = 'object')
  `.execute(db);
  await sql`
    alter table runs add constraint runs_window_kind check ((trigger_kind = 'window') = ("window" is not null))
  `.execute(db);

  await sql`alter table run_log_entries drop constraint run_log_entries_kind_check`.execute(db);
  await sql`
    alter table run_log_entries add constraint run_log_entries_kind_check check (kind in (
      'triggered', 'context_resolved', 'rules_evaluated', 'task_created', 'task_completed',
      'task_cancelled', 'task_expired', 'run_finished', 'run_failed', 'misfire_skipped',
      'misfire_coalesced', 'note', 'event_joined', 'window_closed'
    ))`.execute(db);

  await sql`
    create table run_events (
      definition_id uuid not null references definitions (id) on delete cascade,
      event_key text not null check (length(event_key) between 1 and 128),
      run_id uuid not null references runs (id) on delete cascade,
      -- 0, 1, 2 … in the order the events joined the window
      position integer not null check (position >= 0),
      joined_at timestamptz(3) not null,
      -- null when the window had reached its bounds: the event is counted, not kept
      envelope jsonb check (envelope is null or jsonb_typeof(envelope) = 'object'),
      primary key (definition_id, event_key),
      constraint run_events_position_unique unique (run_id, position)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists run_events`.execute(db);
  await sql`delete from run_log_entries where kind in ('event_joined', 'window_closed')`.execute(db);
  await sql`alter table run_log_entries drop constraint run_log_entries_kind_check`.execute(db);
  await sql`
    alter table run_log_entries add constraint run_log_entries_kind_check check (kind in (
      'triggered', 'context_resolved', 'rules_evaluated', 'task_created', 'task_completed',
      'task_cancelled', 'task_expired', 'run_finished', 'run_failed', 'misfire_skipped',
      'misfire_coalesced', 'note'
    ))`.execute(db);
  await sql`delete from runs where trigger_kind = 'window' or status in ('waiting', 'expired', 'cancelled')`.execute(
    db,
  );
  await sql`alter table runs drop constraint runs_window_kind`.execute(db);
  await sql`alter table runs drop column "window"`.execute(db);
  await sql`alter table runs drop constraint runs_trigger_kind_check`.execute(db);
  await sql`
    alter table runs add constraint runs_trigger_kind_check check (trigger_kind in ('event', 'cron', 'manual'))
  `.execute(db);
  await sql`alter table runs drop constraint runs_finished_at`.execute(db);
  await sql`
    alter table runs add constraint runs_finished_at check (
      (status in ('succeeded', 'failed', 'skipped', 'coalesced')) = (finished_at is not null)
    )`.execute(db);
  await sql`alter table runs drop constraint runs_status_check`.execute(db);
  await sql`
    alter table runs add constraint runs_status_check
      check (status in ('pending', 'running', 'succeeded', 'failed', 'skipped', 'coalesced'))`.execute(db);
}
