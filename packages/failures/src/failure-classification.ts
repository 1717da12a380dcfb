// Which failures retrying cannot fix. Decided here, once, for every process that retries: the
// activities (a permanent failure is thrown as a non-retryable ApplicationFailure, so a run
// fails at once with the reason instead of an activity retrying forever), ingest (a start
// Temporal refuses is dead-lettered once instead of being redelivered) and the API (a value
// PostgreSQL refuses is the caller's BAD_REQUEST, not our 500). Not imported by workflow code.
import { displayText } from '@activity-core/core';
import { CorruptRowError, PG_UNIQUE_VIOLATION, pgErrorCode } from '@activity-core/db';
import { type FailureType, FailureTypes } from '@activity-core/workflows';
import { isGrpcServiceError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';

/** A value too large to travel as one Temporal payload (an activity result, a workflow input). */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
  readonly bytes: number;
  readonly limit: number;
  constructor(what: string, bytes: number, limit: number) {
    super(`${what} is ${bytes} bytes as JSON; Temporal carries at most ${limit} bytes in one payload`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

export type FailureClass =
  | { readonly permanent: false }
  | {
      readonly permanent: true;
      /** The ApplicationFailure type a run records (`DataRejected`, `InvalidInput`, …). */
      readonly type: FailureType | string;
      /** What went wrong, safe to store and show (no row data, no control characters). */
      readonly reason: string;
      /** The SQLSTATE, when PostgreSQL refused. */
      readonly sqlstate?: string;
    };

const RETRYABLE: FailureClass = { permanent: false };
/** gRPC INVALID_ARGUMENT: Temporal refused this request as such (e.g. a blob over its size limit). */
const GRPC_INVALID_ARGUMENT = 3;

/**
 * Whether `error` is one that retrying cannot fix, and why. Permanent: a non-retryable
 * ApplicationFailure; a validation error (zod, a stored row that does not match its schema);
 * PostgreSQL data exceptions (SQLSTATE class 22, e.g. 22P05 for `\u0000` in jsonb), integrity
 * violations (class 23) other than a unique violation (23505 means the row exists: a retry
 * finds it and carries on), program limits (class 54, e.g. an index row too large); a payload
 * too large for Temporal; a request Temporal refused as invalid (gRPC INVALID_ARGUMENT).
 * Everything else (connections, timeouts, deadlocks, serialization failures …) is retryable.
 * The `cause` chain is followed, up to 8 links.
 */
export function classifyFailure(error: unknown): FailureClass {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const found = classifyOne(current);
    if (found) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return RETRYABLE;
}

function classifyOne(error: object): FailureClass | undefined {
  if (error instanceof ApplicationFailure) {
    return error.nonRetryable
      ? { permanent: true, type: error.type ?? 'Error', reason: safeText(error.message) }
      : RETRYABLE;
  }
  if (error instanceof PayloadTooLargeError) {
    return { permanent: true, type: FailureTypes.payloadTooLarge, reason: error.message };
  }
  if (error instanceof z.core.$ZodError) {
    const issue = error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    return {
      permanent: true,
      type: FailureTypes.invalidInput,
      reason: safeText(`${where}${issue?.message ?? 'invalid'}`),
    };
  }
  if (error instanceof CorruptRowError) {
    return { permanent: true, type: FailureTypes.invalidInput, reason: safeText(error.message) };
  }
  const sqlstate = pgErrorCode(error);
  if (sqlstate !== undefined && /^[0-9A-Z]{5}$/.test(sqlstate)) {
    const klass = sqlstate.slice(0, 2);
    if (klass === '22' || klass === '54' || (klass === '23' && sqlstate !== PG_UNIQUE_VIOLATION)) {
      return { permanent: true, type: FailureTypes.dataRejected, reason: pgReason(error, sqlstate), sqlstate };
    }
    return RETRYABLE;
  }
  if (isGrpcServiceError(error) && error.code === GRPC_INVALID_ARGUMENT) {
    return {
      permanent: true,
      type: FailureTypes.requestRejected,
      reason: safeText(`Temporal refused the request (INVALID_ARGUMENT): ${error.details}`),
    };
  }
  return undefined;
}

const PG_CLASS_NAMES: Record<string, string> = {
  '22': 'a data exception',
  '23': 'an integrity constraint violation',
  '54': 'a program limit exceeded',
};

function pgReason(error: object, sqlstate: string): string {
  const message = (error as { message?: unknown }).message;
  // `detail` of a data exception names the problem (`\u0000 cannot be converted to text.`);
  // that of an integrity violation may quote the row, which stays out of logs and run logs.
  const detail = sqlstate.startsWith('22') ? (error as { detail?: unknown }).detail : undefined;
  const text = [typeof message === 'string' ? message : '', typeof detail === 'string' ? detail : '']
    .filter((t) => t !== '')
    .join(': ');
  return safeText(
    `PostgreSQL refused the data, ${PG_CLASS_NAMES[sqlstate.slice(0, 2)] ?? 'an error'} (SQLSTATE ${sqlstate})${text ? `: ${text}` : ''}`,
  );
}

function safeText(text: string): string {
  return displayText(text, 500);
}

/**
 * The error an activity throws for `error`: a permanent one becomes a non-retryable
 * ApplicationFailure of its {@link FailureClass} type (the original as its cause), anything
 * else is rethrown unchanged for Temporal's retry policy.
 */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  const failure = classifyFailure(error);
  if (!failure.permanent) return error;
  return ApplicationFailure.create({
    type: failure.type,
    message: failure.reason,
    nonRetryable: true,
    ...(error instanceof Error ? { cause: error } : {}),
  });
}
