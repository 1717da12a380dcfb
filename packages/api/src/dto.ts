import {
  type ActivityDefinitionSpec,
  type ExpressionLimits,
  type PreviewOccurrence,
  type ResolvedDstPolicy,
  type RunWindow,
  validateDefinitionSpec,
} from '@activity-core/core';
import type {
  ApiTokenRecord,
  DefinitionRecord,
  DefinitionVersionRecord,
  OutboxEntry as OutboxEntryRecord,
  RunEventRecord,
  RunLogEntryRecord,
  RunRecord,
  TaskRecord,
} from '@activity-core/db';

// Wire shapes. The API has no data transformer, so every timestamp travels as an ISO 8601
// string and the types say so (a `Date` in an output type would be a lie on the client).

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** `definitions.previewSchedule`: the engine's next fires, with what the DST policy did to each. */
export interface SchedulePreview {
  readonly timezone: string;
  /** The trigger's DST policy with `auto` resolved. */
  readonly dst: ResolvedDstPolicy;
  /** tz data version of the process that answered (the API's); the worker compiles with its own. */
  readonly tzdata: string;
  /** The fire instants, ISO 8601 UTC (the same as `occurrences[].at`). */
  readonly times: string[];
  readonly occurrences: PreviewOccurrence[];
}

export interface Definition {
  readonly id: string;
  readonly key: string;
  readonly version: number;
  readonly enabled: boolean;
  readonly archived: boolean;
  readonly archivedAt: string | null;
  /** The spec of the current version, as validated when it was saved. */
  readonly spec: ActivityDefinitionSpec;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly versionCreatedAt: string;
  readonly versionCreatedBy: string | null;
  /**
   * Save-time checks the current version no longer passes (it was saved before they existed,
   * e.g. a filter that is not a `bool`). It keeps running as it was saved; `definitions.update`
   * with a fixed spec clears them. Empty for a definition that passes today's checks.
   */
  readonly warnings: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

const warningsByVersion = new Map<string, Definition['warnings']>();

/** Today's save-time checks on a stored version; versions never change, so each is checked once. */
function warningsOf(r: DefinitionRecord, limits: ExpressionLimits): Definition['warnings'] {
  const key = `${r.id}@${r.version}`;
  const cached = warningsByVersion.get(key);
  if (cached) return cached;
  const result = validateDefinitionSpec(r.spec, { limits });
  const warnings = result.ok
    ? []
    : result.errors.map((e) => ({ path: e.path ? `spec.${e.path}` : 'spec', message: e.message }));
  if (warningsByVersion.size >= 10_000) warningsByVersion.clear();
  warningsByVersion.set(key, warnings);
  return warnings;
}

export function toDefinition(r: DefinitionRecord, limits: ExpressionLimits): Definition {
  return {
    id: r.id,
    key: r.key,
    version: r.version,
    enabled: r.enabled,
    archived: r.archivedAt !== null,
    archivedAt: isoOrNull(r.archivedAt),
    spec: r.spec,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    versionCreatedAt: iso(r.versionCreatedAt),
    versionCreatedBy: r.versionCreatedBy,
    warnings: warningsOf(r, limits),
  };
}

export interface DefinitionVersion {
  readonly definitionId: string;
  readonly version: number;
  readonly spec: ActivityDefinitionSpec;
  readonly createdBy: string | null;
  readonly createdAt: string;
}

export function toDefinitionVersion(r: DefinitionVersionRecord): DefinitionVersion {
  return {
    definitionId: r.definitionId,
    version: r.version,
    spec: r.spec,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
  };
}

export interface Run {
  readonly id: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly triggerKind: RunRecord['triggerKind'];
  readonly triggerKey: string;
  readonly workflowId: string;
  readonly status: RunRecord['status'];
  readonly nominalTime: string | null;
  readonly jitterMs: number | null;
  /** Event runs: the event; window runs: the window's first event. */
  readonly event: Record<string, unknown> | null;
  /**
   * Window runs (`triggerKind: 'window'`): the window: key, mode, openedAt, count (so far while
   * `waiting`), stored, duplicates; closedAt and reason once it closed.
   */
  readonly window: RunWindow | null;
  readonly summary: Record<string, unknown> | null;
  readonly error: Record<string, unknown> | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** One event of a window run, in join order. */
export interface RunEvent {
  readonly position: number;
  readonly eventKey: string;
  readonly joinedAt: string;
  /** Null when the event was counted but not kept (past the window's bounds). */
  readonly envelope: Record<string, unknown> | null;
}

export function toRunEvent(r: RunEventRecord): RunEvent {
  return { position: r.position, eventKey: r.eventKey, joinedAt: iso(r.joinedAt), envelope: r.envelope };
}

/** `runs.get`: the run, and for a window run the events that joined it so far. */
export interface RunDetail extends Run {
  /** Window runs: the first events in join order (at most `RUN_EVENTS_IN_GET`); null for other runs. */
  readonly events: RunEvent[] | null;
}

export function toRun(r: RunRecord): Run {
  return {
    id: r.id,
    definitionId: r.definitionId,
    definitionVersion: r.definitionVersion,
    triggerKind: r.triggerKind,
    triggerKey: r.triggerKey,
    workflowId: r.workflowId,
    status: r.status,
    nominalTime: isoOrNull(r.nominalTime),
    jitterMs: r.jitterMs,
    event: r.event,
    window: r.window,
    summary: r.summary,
    error: r.error,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    startedAt: isoOrNull(r.startedAt),
    finishedAt: isoOrNull(r.finishedAt),
  };
}

export interface RunLogEntry {
  readonly runId: string;
  readonly seq: number;
  readonly definitionId: string;
  readonly at: string;
  readonly kind: RunLogEntryRecord['kind'];
  readonly data: Record<string, unknown>;
}

export function toRunLogEntry(r: RunLogEntryRecord): RunLogEntry {
  return { runId: r.runId, seq: r.seq, definitionId: r.definitionId, at: iso(r.at), kind: r.kind, data: r.data };
}

/**
 * A record as the API returns it: the same fields, its dates as ISO 8601 strings (what JSON
 * carries) and its arrays as plain arrays.
 */
type OnTheWire<T> = {
  readonly [K in keyof T]: T[K] extends Date
    ? string
    : T[K] extends Date | null
      ? string | null
      : T[K] extends readonly (infer E)[]
        ? E[]
        : T[K];
};

/** A task: the database's one task shape ({@link TaskRecord}), on the wire. */
export type Task = OnTheWire<TaskRecord>;

/** An outbox row as operators see it (no body), on the wire. */
export type OutboxEntry = Omit<OnTheWire<OutboxEntryRecord>, 'skipped'> & {
  readonly skipped: { readonly at: string; readonly by: string; readonly reason: string } | null;
};

export function toOutboxEntry(r: OutboxEntryRecord): OutboxEntry {
  return {
    ...r,
    createdAt: iso(r.createdAt),
    nextAttemptAt: iso(r.nextAttemptAt),
    leasedUntil: isoOrNull(r.leasedUntil),
    skipped: r.skipped ? { ...r.skipped, at: iso(r.skipped.at) } : null,
  };
}

export function toTask(r: TaskRecord): Task {
  return {
    ...r,
    labels: [...r.labels],
    dueAt: isoOrNull(r.dueAt),
    expiresAt: isoOrNull(r.expiresAt),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    completedAt: isoOrNull(r.completedAt),
  };
}

export interface ApiToken {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export function toApiToken(r: ApiTokenRecord): ApiToken {
  return {
    id: r.id,
    name: r.name,
    scopes: [...r.scopes],
    createdAt: iso(r.createdAt),
    expiresAt: isoOrNull(r.expiresAt),
    lastUsedAt: isoOrNull(r.lastUsedAt),
    revokedAt: isoOrNull(r.revokedAt),
  };
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}
