import type { ColumnType, Generated } from 'kysely';

/**
 * A JSON (jsonb) column. Reads come back as `unknown` on purpose: repositories parse them with a
 * zod schema and throw `CorruptRowError` on mismatch. Writes take a JSON string, because `pg`
 * turns a JS array into a PostgreSQL array literal, not JSON.
 */
export type JsonColumn = ColumnType<unknown, string, string>;
export type NullableJsonColumn = ColumnType<unknown, string | null | undefined, string | null>;

/** `timestamptz(3) not null default now()`. */
export type CreatedAt = ColumnType<Date, Date | undefined, never>;
export type UpdatedAt = ColumnType<Date, Date | undefined, Date>;

export const RUN_TRIGGER_KINDS = ['event', 'cron', 'manual', 'window'] as const;
export type RunTriggerKind = (typeof RUN_TRIGGER_KINDS)[number];

/**
 * `waiting`: an event window is open and collecting (the run starts when it closes);
 * `expired`: an allOf window closed incomplete; `cancelled`: an operator discarded a window.
 */
export const RUN_STATUSES = [
  'waiting',
  'pending',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'coalesced',
  'expired',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TASK_STATUSES = ['open', 'completed', 'cancelled', 'expired'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Kinds of run-log entries (a check constraint holds the same list; add both together). */
export const RUN_LOG_KINDS = [
  'triggered',
  'context_resolved',
  'rules_evaluated',
  'task_created',
  'task_completed',
  'task_cancelled',
  'task_expired',
  'run_finished',
  'run_failed',
  'misfire_skipped',
  'misfire_coalesced',
  'note',
  'event_joined',
  'window_closed',
] as const;
export type RunLogKind = (typeof RUN_LOG_KINDS)[number];

export interface DefinitionsTable {
  id: string;
  key: string;
  current_version: ColumnType<number, number | undefined, number>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  archived_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  /** Set by a trigger on every write: the installation-wide revision of that write. */
  revision: ColumnType<number, never, never>;
}

/**
 * One row: the revision of the latest definition write, taken in commit order (see the
 * migration `definition-revision`), and the latest revision that deleted a definition.
 */
export interface DefinitionRevisionTable {
  singleton: ColumnType<boolean, never, never>;
  revision: ColumnType<number, never, number>;
  reset_revision: ColumnType<number, never, number>;
}

export interface DefinitionVersionsTable {
  definition_id: string;
  version: number;
  spec: JsonColumn;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface RunsTable {
  id: string;
  definition_id: string;
  definition_version: number;
  trigger_kind: RunTriggerKind;
  trigger_key: string;
  workflow_id: string;
  status: RunStatus;
  nominal_time: Date | null;
  jitter_ms: number | null;
  event: NullableJsonColumn;
  /** Window runs: the window's summary (key, mode, opened, count, …; closed and reason once closed). */
  window: NullableJsonColumn;
  summary: NullableJsonColumn;
  error: NullableJsonColumn;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Which window run each event of a windowed definition joined: at most one, ever. */
export interface RunEventsTable {
  definition_id: string;
  event_key: string;
  run_id: string;
  /** 0, 1, 2 … in join order. */
  position: number;
  joined_at: Date;
  /** Null when the event was counted but not kept (the window had reached its bounds). */
  envelope: NullableJsonColumn;
}

export interface RunLogEntriesTable {
  run_id: string;
  seq: number;
  definition_id: string;
  at: CreatedAt;
  kind: RunLogKind;
  /** Optional caller key that makes a retried append a no-op (unique per run). */
  idempotency_key: string | null;
  data: JsonColumn;
}

export interface TaskInstancesTable {
  id: string;
  run_id: string;
  definition_id: string;
  definition_key: string;
  definition_version: number;
  template_key: string;
  template_index: number;
  idempotency_key: string;
  workflow_id: string;
  dedupe_key: string | null;
  title: string;
  description: string | null;
  assignee: string | null;
  priority: string | null;
  labels: ColumnType<string[], string[] | undefined, string[]>;
  payload: JsonColumn;
  status: ColumnType<TaskStatus, TaskStatus | undefined, TaskStatus>;
  due_at: Date | null;
  expires_at: Date | null;
  completed_by: string | null;
  reason: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  completed_at: Date | null;
}

export interface OutboxTable {
  /** Also the `Nats-Msg-Id`, so JetStream drops a re-published row. */
  id: string;
  subject: string;
  headers: JsonColumn;
  body: JsonColumn;
  created_at: CreatedAt;
  published_at: Date | null;
  attempts: Generated<number>;
  last_error: string | null;
  /** Earliest time a relay may claim the row: backoff after a failure, lease after a claim. */
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  /** Write order (an identity column; bigint, so a string here): the relay publishes by it. */
  seq: ColumnType<string, never, never>;
  /** Rows with one key are published in `seq` order, one at a time (the task id for task events). */
  order_key: string | null;
  /** While a relay holds the row (claim + lease); cleared when it is published or fails. */
  leased_until: Date | null;
  /** Set when an operator skipped the row (`outbox.skip`): it counts as published, never sent. */
  skipped_at: Date | null;
  skipped_by: string | null;
  skip_reason: string | null;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  /** sha256 of the whole token string; the token itself is never stored. */
  token_hash: Buffer;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  created_at: CreatedAt;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** Kysely table types of the activity-core schema (see migrations/). */
export interface Database {
  definitions: DefinitionsTable;
  definition_revision: DefinitionRevisionTable;
  definition_versions: DefinitionVersionsTable;
  runs: RunsTable;
  run_log_entries: RunLogEntriesTable;
  run_events: RunEventsTable;
  task_instances: TaskInstancesTable;
  outbox: OutboxTable;
  api_tokens: ApiTokensTable;
}
