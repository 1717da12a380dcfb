import { assertNever } from '@activity-core/core';
import type { z } from 'zod';

/** Stable codes of the errors this package throws; the API maps them to tRPC/HTTP codes in one place. */
export const DbErrorCode = {
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  InvalidTransition: 'INVALID_TRANSITION',
  InvalidCursor: 'INVALID_CURSOR',
  CorruptRow: 'CORRUPT_ROW',
  Migration: 'MIGRATION',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

/** Base class of every error thrown on purpose by `@activity-core/db`. */
export abstract class DbError extends Error {
  abstract readonly code: DbErrorCode;
}

export interface NotFoundData {
  readonly entity: string;
  /** The id, key or other lookup value that found nothing. */
  readonly id: string;
}

/** A row looked up by id or key does not exist. */
export class NotFoundError extends DbError {
  override readonly name = 'NotFoundError';
  readonly code = DbErrorCode.NotFound;
  readonly data: NotFoundData;
  constructor(data: NotFoundData, options?: ErrorOptions) {
    super(`${data.entity} ${data.id} not found`, options);
    this.data = data;
  }
}

export type ConflictReason =
  /** A unique value (definition key, run workflow id) is already taken. */
  | 'duplicate'
  /** An optimistic write carried an expected version that is no longer current. */
  | 'stale_version'
  /** The definition is archived and can no longer change. */
  | 'archived'
  /** An update carried a spec whose key differs from the definition's (keys never change). */
  | 'key_changed'
  /** The outbox row was published (or skipped) already. */
  | 'published'
  /** The outbox row is being published by a relay right now (its lease has not run out). */
  | 'in_flight'
  /** The outbox row waits for an earlier unpublished row of its order key (`field`: that row's id). */
  | 'waiting';

export interface ConflictData {
  readonly entity: string;
  readonly id: string;
  readonly reason: ConflictReason;
  readonly expectedVersion?: number;
  readonly currentVersion?: number;
  /** For `duplicate`: the constraint or field that clashed. */
  readonly field?: string;
  /** For a `duplicate` definition key: the definition holding it is archived (keys are never reused). */
  readonly heldByArchived?: boolean;
}

/** A write lost against another writer or a uniqueness rule; re-read and decide. */
export class ConflictError extends DbError {
  override readonly name = 'ConflictError';
  readonly code = DbErrorCode.Conflict;
  readonly data: ConflictData;
  constructor(data: ConflictData, options?: ErrorOptions) {
    super(conflictMessage(data), options);
    this.data = data;
  }
}

function conflictMessage(d: ConflictData): string {
  switch (d.reason) {
    case 'duplicate':
      return d.heldByArchived
        ? `${d.entity} ${d.id}: ${d.field ?? 'a unique value'} is already taken by an archived ${d.entity} (keys are never reused)`
        : `${d.entity} ${d.id}: ${d.field ?? 'a unique value'} is already taken`;
    case 'stale_version':
      return `${d.entity} ${d.id}: expected version ${d.expectedVersion}, current is ${d.currentVersion}`;
    case 'archived':
      return `${d.entity} ${d.id} is archived`;
    case 'key_changed':
      return `${d.entity} ${d.id}: the key cannot change`;
    case 'published':
      return `${d.entity} ${d.id} is published already`;
    case 'in_flight':
      return `${d.entity} ${d.id} is being published right now; try again once its lease has run out`;
    case 'waiting':
      return `${d.entity} ${d.id} waits for ${d.field ?? 'an earlier row of its task'}, which goes first: retry or skip that one`;
    default:
      return assertNever(d.reason);
  }
}

export interface InvalidTransitionData {
  readonly entity: string;
  readonly id: string;
  readonly from: string;
  readonly to: string;
}

/** A status change that the state machine forbids (e.g. a finished run going back to running). */
export class InvalidTransitionError extends DbError {
  override readonly name = 'InvalidTransitionError';
  readonly code = DbErrorCode.InvalidTransition;
  readonly data: InvalidTransitionData;
  constructor(data: InvalidTransitionData, options?: ErrorOptions) {
    super(`${data.entity} ${data.id}: cannot go from ${data.from} to ${data.to}`, options);
    this.data = data;
  }
}

export interface InvalidCursorData {
  readonly cursor: string;
}

/** A pagination cursor that this package did not produce (or for another list). */
export class InvalidCursorError extends DbError {
  override readonly name = 'InvalidCursorError';
  readonly code = DbErrorCode.InvalidCursor;
  readonly data: InvalidCursorData;
  constructor(data: InvalidCursorData, options?: ErrorOptions) {
    super('cursor: not a cursor returned by this list', options);
    this.data = data;
  }
}

export interface CorruptRowData {
  readonly table: string;
  readonly rowId: string;
  readonly field: string;
  /** The zod issues (path inside the field, message). */
  readonly issues: readonly z.core.$ZodIssue[];
}

/** A stored value does not match its schema: the row names itself so an operator can fix it. */
export class CorruptRowError extends DbError {
  override readonly name = 'CorruptRowError';
  readonly code = DbErrorCode.CorruptRow;
  readonly data: CorruptRowData;
  constructor(data: CorruptRowData, options?: ErrorOptions) {
    const first = data.issues[0];
    const where = first && first.path.length > 0 ? `${data.field}.${first.path.join('.')}` : data.field;
    super(`${data.table} row ${data.rowId}: field ${where} is corrupt: ${first?.message ?? 'invalid value'}`, options);
    this.data = data;
  }
}

export interface MigrationErrorData {
  readonly direction: 'up' | 'down' | 'status';
  /** The migration that failed, when kysely names one. */
  readonly migration?: string;
}

/** Kysely's migrator reported an error (it returns errors instead of throwing). */
export class MigrationError extends DbError {
  override readonly name = 'MigrationError';
  readonly code = DbErrorCode.Migration;
  readonly data: MigrationErrorData;
  constructor(data: MigrationErrorData, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`migration ${data.direction}${data.migration ? ` (${data.migration})` : ''} failed${cause}`, options);
    this.data = data;
  }
}

/** PostgreSQL SQLSTATE of a failed query, when the error came from the server. */
export function pgErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

export const PG_UNIQUE_VIOLATION = '23505';
