import { type Kysely, sql } from 'kysely';

// Written against Kysely<unknown>: a migration must keep working when the application's table
// types move on, so it never sees them.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table definitions (
      id uuid primary key,
      key text not null,
      current_version integer not null default 1 check (current_version >= 1),
      enabled boolean not null default true,
      archived_at timestamptz(3),
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now(),
      -- keys appear in NATS subjects (tasks.created.{key}); same rule as core's DefinitionKey
      constraint definitions_key_format check (key ~ '^[a-z][a-z0-9-]{1,62}$'),
      constraint definitions_key_unique unique (key),
      constraint definitions_archived_disabled check (archived_at is null or not enabled)
    )`.execute(db);
  await sql`create index definitions_created_idx on definitions (created_at desc, id desc)`.execute(db);

  await sql`
    create table definition_versions (
      definition_id uuid not null references definitions (id) on delete cascade,
      version integer not null check (version >= 1),
      spec jsonb not null check (jsonb_typeof(spec) = 'object'),
      created_by text,
      created_at timestamptz(3) not null default now(),
      primary key (definition_id, version)
    )`.execute(db);

  // Versions are immutable: a run records the version it started with and must find it unchanged.
  await sql`
    create function ac_forbid_update() returns trigger language plpgsql as $$
    begin
      raise exception '% rows are immutable', tg_table_name using errcode = 'restrict_violation';
    end $$`.execute(db);
  await sql`
    create trigger definition_versions_immutable before update on definition_versions
    for each row execute function ac_forbid_update()`.execute(db);

  // Ingest LISTENs on this channel to refresh its cache of enabled definitions.
  await sql`
    create function ac_notify_definition_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('ac_definitions', coalesce(new.id, old.id)::text);
      return null;
    end $$`.execute(db);
  await sql`
    create trigger definitions_notify after insert or update or delete on definitions
    for each row execute function ac_notify_definition_change()`.execute(db);

  await sql`
    create table runs (
      id uuid primary key,
      definition_id uuid not null references definitions (id) on delete cascade,
      definition_version integer not null,
      trigger_kind text not null check (trigger_kind in ('event', 'cron', 'manual')),
      trigger_key text not null check (length(trigger_key) between 1 and 512),
      workflow_id text not null check (length(workflow_id) between 1 and 1000),
      status text not null default 'pending'
        check (status in ('pending', 'running', 'succeeded', 'failed', 'skipped', 'coalesced')),
      nominal_time timestamptz(3),
      jitter_ms integer check (jitter_ms >= 0),
      event jsonb,
      summary jsonb,
      error jsonb,
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now(),
      started_at timestamptz(3),
      finished_at timestamptz(3),
      constraint runs_trigger_unique unique (definition_id, trigger_key),
      constraint runs_workflow_id_unique unique (workflow_id),
      constraint runs_definition_version_fk foreign key (definition_id, definition_version)
        references definition_versions (definition_id, version),
      constraint runs_finished_at check (
        (status in ('succeeded', 'failed', 'skipped', 'coalesced')) = (finished_at is not null)
      ),
      constraint runs_cron_nominal_time check (trigger_kind <> 'cron' or nominal_time is not null)
    )`.execute(db);
  await sql`create index runs_definition_created_idx on runs (definition_id, created_at desc, id desc)`.execute(db);
  await sql`create index runs_status_created_idx on runs (status, created_at desc, id desc)`.execute(db);
  await sql`create index runs_created_idx on runs (created_at desc, id desc)`.execute(db);
  await sql`
    create index runs_last_succeeded_idx on runs (definition_id, finished_at desc, id desc)
    where status = 'succeeded'`.execute(db);

  await sql`
    create table run_log_entries (
      run_id uuid not null references runs (id) on delete cascade,
      seq integer not null check (seq >= 1),
      definition_id uuid not null references definitions (id) on delete cascade,
      at timestamptz(3) not null default now(),
      kind text not null check (kind in (
        'triggered', 'context_resolved', 'rules_evaluated', 'task_created', 'task_completed',
        'task_cancelled', 'task_expired', 'run_finished', 'run_failed', 'misfire_skipped',
        'misfire_coalesced', 'note'
      )),
      idempotency_key text,
      data jsonb not null default '{}' check (jsonb_typeof(data) = 'object'),
      primary key (run_id, seq),
      constraint run_log_entries_idempotency_unique unique (run_id, idempotency_key)
    )`.execute(db);
  await sql`
    create index run_log_entries_definition_idx on run_log_entries (definition_id, at desc, run_id desc, seq desc)
  `.execute(db);
  await sql`
    create trigger run_log_entries_append_only before update on run_log_entries
    for each row execute function ac_forbid_update()`.execute(db);

  await sql`
    create table task_instances (
      id uuid primary key,
      run_id uuid not null references runs (id) on delete cascade,
      definition_id uuid not null references definitions (id) on delete cascade,
      -- keys never change, so the copy saves a join on every task event and list
      definition_key text not null,
      definition_version integer not null,
      template_key text not null check (length(template_key) between 1 and 200),
      template_index integer not null check (template_index >= 0),
      idempotency_key text not null check (length(idempotency_key) between 1 and 1000),
      workflow_id text not null,
      dedupe_key text,
      title text not null,
      description text,
      assignee text,
      priority text,
      labels text[] not null default '{}',
      payload jsonb not null default '{}',
      status text not null default 'open' check (status in ('open', 'completed', 'cancelled', 'expired')),
      due_at timestamptz(3),
      expires_at timestamptz(3),
      completed_by text,
      reason text,
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now(),
      completed_at timestamptz(3),
      constraint task_instances_idempotency_unique unique (idempotency_key),
      constraint task_instances_completed_at check ((status = 'open') = (completed_at is null))
    )`.execute(db);
  await sql`
    create index task_instances_definition_created_idx on task_instances (definition_id, created_at desc, id desc)
  `.execute(db);
  await sql`
    create index task_instances_status_created_idx on task_instances (status, created_at desc, id desc)
  `.execute(db);
  await sql`create index task_instances_created_idx on task_instances (created_at desc, id desc)`.execute(db);
  await sql`create index task_instances_run_idx on task_instances (run_id)`.execute(db);
  await sql`create index task_instances_labels_idx on task_instances using gin (labels)`.execute(db);
  await sql`
    create index task_instances_open_dedupe_idx on task_instances (definition_id, dedupe_key)
    where status = 'open' and dedupe_key is not null`.execute(db);
  await sql`
    create index task_instances_open_expiry_idx on task_instances (expires_at)
    where status = 'open' and expires_at is not null`.execute(db);

  await sql`
    create table outbox (
      id uuid primary key,
      subject text not null check (length(subject) between 1 and 1000),
      headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
      body jsonb not null,
      created_at timestamptz(3) not null default now(),
      published_at timestamptz(3),
      attempts integer not null default 0 check (attempts >= 0),
      last_error text,
      next_attempt_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`
    create index outbox_pending_idx on outbox (next_attempt_at, id) where published_at is null
  `.execute(db);

  await sql`
    create table api_tokens (
      id uuid primary key,
      name text not null check (length(name) between 1 and 200),
      token_hash bytea not null check (length(token_hash) = 32),
      scopes text[] not null default '{}',
      created_at timestamptz(3) not null default now(),
      expires_at timestamptz(3),
      last_used_at timestamptz(3),
      revoked_at timestamptz(3),
      constraint api_tokens_hash_unique unique (token_hash)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists api_tokens`.execute(db);
  await sql`drop table if exists outbox`.execute(db);
  await sql`drop table if exists task_instances`.execute(db);
  await sql`drop table if exists run_log_entries`.execute(db);
  await sql`drop table if exists runs`.execute(db);
  await sql`drop table if exists definition_versions`.execute(db);
  await sql`drop table if exists definitions`.execute(db);
  await sql`drop function if exists ac_notify_definition_change()`.execute(db);
  await sql`drop function if exists ac_forbid_update()`.execute(db);
}
