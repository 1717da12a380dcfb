import { randomUUID } from 'node:crypto';
import { formatPath } from '@activity-core/core';
import {
  ConflictError,
  CorruptRowError,
  InvalidCursorError,
  InvalidTransitionError,
  NotFoundError,
} from '@activity-core/db';
import { classifyFailure } from '@activity-core/failures';
import type { Logger } from '@activity-core/runtime';
import { FailureTypes, TaskConflictError, TaskNotFoundError, WindowConflictError } from '@activity-core/workflows';
import { ScheduleNotFoundError } from '@temporalio/client';
import { type TRPCDefaultErrorShape, TRPCError } from '@trpc/server';
import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';

/** One input problem: where (`spec.trigger.cron.expression`, `taskTemplates[0].title`) and what to do. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** Input that parsed but does not hold up (bad CEL, unknown template variable, key change…). */
export class FieldValidationError extends Error {
  override readonly name = 'FieldValidationError';
  readonly fieldErrors: readonly FieldError[];
  constructor(fieldErrors: readonly FieldError[]) {
    super(fieldErrors.map((e) => `${e.path || '(input)'}: ${e.message}`).join('; '));
    this.fieldErrors = fieldErrors;
  }
}

/** Throws BAD_REQUEST naming the fields. */
export function invalidInput(fieldErrors: readonly FieldError[]): never {
  const cause = new FieldValidationError(fieldErrors);
  throw new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
}

const correlationIds = new WeakMap<TRPCError, string>();

function unexpected(error: unknown, logger: Logger, path: string | undefined): TRPCError {
  const correlationId = randomUUID();
  logger.error('unexpected error in procedure', { path, correlationId, error });
  const mapped = new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    message: `internal error; quote correlation id ${correlationId}`,
  });
  correlationIds.set(mapped, correlationId);
  return mapped;
}

/**
 * The one place where errors of the domain packages become tRPC codes. Anything not named here
 * is unexpected: logged with a fresh correlation id and answered as INTERNAL_SERVER_ERROR
 * without its message (which could carry connection strings or SQL).
 */
export function toTRPCError(error: unknown, logger: Logger, path?: string): TRPCError {
  const cause =
    error instanceof TRPCError && error.code === 'INTERNAL_SERVER_ERROR' && error.cause ? error.cause : error;
  if (cause instanceof TRPCError) return cause;
  if (cause instanceof ScheduleNotFoundError) {
    return new TRPCError({
      code: 'NOT_FOUND',
      message: 'this definition has no schedule (not a cron definition, or archived)',
      cause,
    });
  }
  if (cause instanceof NotFoundError || cause instanceof TaskNotFoundError) {
    return new TRPCError({ code: 'NOT_FOUND', message: cause.message, cause });
  }
  if (
    cause instanceof ConflictError ||
    cause instanceof InvalidTransitionError ||
    cause instanceof TaskConflictError ||
    cause instanceof WindowConflictError
  ) {
    return new TRPCError({ code: 'CONFLICT', message: cause.message, cause });
  }
  if (cause instanceof InvalidCursorError) {
    const fieldError = new FieldValidationError([{ path: 'cursor', message: 'not a cursor returned by this list' }]);
    return new TRPCError({ code: 'BAD_REQUEST', message: fieldError.message, cause: fieldError });
  }
  if (cause instanceof CorruptRowError) return unexpected(cause, logger, path);
  // A value PostgreSQL refuses (SQLSTATE 22, 23 but a duplicate, 54): the caller's input.
  const failure = classifyFailure(cause);
  if (failure.permanent && failure.type === FailureTypes.dataRejected) {
    const fieldError = new FieldValidationError([{ path: '', message: `a value cannot be stored: ${failure.reason}` }]);
    return new TRPCError({ code: 'BAD_REQUEST', message: fieldError.message, cause: fieldError });
  }
  return unexpected(cause, logger, path);
}

function issuesOf(cause: unknown): FieldError[] | null {
  if (cause instanceof FieldValidationError) return [...cause.fieldErrors];
  if (typeof cause === 'object' && cause !== null && 'issues' in cause && Array.isArray(cause.issues)) {
    return (cause.issues as Array<{ path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>; message?: unknown }>).map(
      (issue) => ({ path: formatPath(issue.path ?? []), message: String(issue.message ?? 'invalid value') }),
    );
  }
  return null;
}

export interface ErrorData {
  readonly code: string;
  readonly httpStatus: number;
  readonly path?: string;
  /** For BAD_REQUEST: each field that is wrong and why. */
  readonly fieldErrors: FieldError[] | null;
  /** For INTERNAL_SERVER_ERROR: the id under which the error was logged. */
  readonly correlationId: string | null;
}

/** Shape of every error the API sends: no stack, field errors for bad input, a correlation id for ours. */
export function formatErrorShape(
  shape: TRPCDefaultErrorShape,
  error: TRPCError,
  logger: Logger,
): { message: string; code: TRPCDefaultErrorShape['code']; data: ErrorData } {
  let correlationId = correlationIds.get(error) ?? null;
  let message = shape.message;
  if (error.code === 'INTERNAL_SERVER_ERROR' && correlationId === null) {
    // Failed outside the procedure middleware (context creation, the adapter).
    correlationId = randomUUID();
    logger.error('unexpected error', { path: shape.data.path, correlationId, error: error.cause ?? error });
    message = `internal error; quote correlation id ${correlationId}`;
  }
  const fieldErrors = error.code === 'BAD_REQUEST' ? issuesOf(error.cause) : null;
  if (fieldErrors && fieldErrors.length > 0) {
    message = fieldErrors.map((e) => `${e.path || '(input)'}: ${e.message}`).join('; ');
  }
  return {
    message,
    code: shape.code,
    data: {
      code: shape.data.code,
      httpStatus: shape.data.httpStatus,
      ...(shape.data.path !== undefined ? { path: shape.data.path } : {}),
      fieldErrors,
      correlationId,
    },
  };
}

/**
 * Codes of the errors the HTTP layer answers before a procedure runs: tRPC's own keys, and
 * `REQUEST_HEADER_FIELDS_TOO_LARGE` (431) and `EXPECTATION_FAILED` (417), for which tRPC has none.
 */
export type HttpErrorCode = TRPC_ERROR_CODE_KEY | 'REQUEST_HEADER_FIELDS_TOO_LARGE' | 'EXPECTATION_FAILED';

/**
 * The body of an error answered outside tRPC (unknown path, body or headers too large, a
 * request Node's HTTP parser rejects), in the shape of every other API error:
 * `{ error: { message, code, data: { code, httpStatus, fieldErrors: null, correlationId: null } } }`.
 */
export function httpErrorBody(
  httpStatus: number,
  code: HttpErrorCode,
  message: string,
): { error: { message: string; code: number; data: ErrorData } } {
  const jsonRpc =
    code === 'REQUEST_HEADER_FIELDS_TOO_LARGE' || code === 'EXPECTATION_FAILED'
      ? TRPC_ERROR_CODES_BY_KEY.BAD_REQUEST
      : TRPC_ERROR_CODES_BY_KEY[code];
  return { error: { message, code: jsonRpc, data: { code, httpStatus, fieldErrors: null, correlationId: null } } };
}
