import { CorruptRowError } from '@activity-core/db';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { classifyFailure, PayloadTooLargeError, toActivityFailure } from './failure-classification.ts';

/** What `pg` throws for a failed query: an Error with the SQLSTATE in `code`. */
function pgError(code: string, message: string, detail?: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR', ...(detail ? { detail } : {}) });
}

/** What @grpc/grpc-js (under the Temporal client) throws: an Error with a numeric code, details and metadata. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

describe('classifyFailure', () => {
  it.each([
    ['22P05', 'unsupported Unicode escape sequence'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P02', 'invalid input syntax for type json'],
    ['22003', 'numeric value out of range'],
    ['23502', 'null value in column "x" violates not-null constraint'],
    ['23503', 'insert or update violates foreign key constraint'],
    ['23514', 'new row violates check constraint'],
    ['54000', 'index row size exceeds btree maximum'],
  ])('PostgreSQL %s is permanent: DataRejected', (code, message) => {
    const failure = classifyFailure(pgError(code, message));
    expect(failure).toMatchObject({ permanent: true, type: 'DataRejected', sqlstate: code });
    expect(failure.permanent && failure.reason).toContain(`SQLSTATE ${code}`);
  });

  it.each([
    ['23505', 'a unique violation means the row exists: a retry finds it'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['57P01', 'admin shutdown'],
    ['08006', 'connection failure'],
    ['53300', 'too many connections'],
    ['42P01', 'undefined table (a migration away)'],
  ])('PostgreSQL %s is retryable (%s)', (code) => {
    expect(classifyFailure(pgError(code, 'x'))).toEqual({ permanent: false });
  });

  it('keeps the detail of a data exception and leaves out that of an integrity violation (it quotes the row)', () => {
    const data = classifyFailure(
      pgError('22P05', 'unsupported Unicode escape sequence', '\\u0000 cannot be converted to text.'),
    );
    expect(data.permanent && data.reason).toContain('\\u0000 cannot be converted to text.');
    const row = classifyFailure(pgError('23502', 'null value', 'Failing row contains (secret, 1).'));
    expect(row.permanent && row.reason).not.toContain('secret');
  });

  it('follows the cause chain', () => {
    const wrapped = new Error('query failed', { cause: new Error('driver', { cause: pgError('22P05', 'x') }) });
    expect(classifyFailure(wrapped)).toMatchObject({ permanent: true, type: 'DataRejected' });
  });

  it('validation errors, corrupt rows and oversize payloads are permanent', () => {
    const zod = z.object({ a: z.string() }).safeParse({ a: 1 }).error;
    expect(classifyFailure(zod)).toMatchObject({
      permanent: true,
      type: 'InvalidInput',
      reason: expect.stringContaining('a:'),
    });
    const corrupt = new CorruptRowError({ table: 'runs', rowId: 'r', field: 'event', issues: [] });
    expect(classifyFailure(corrupt)).toMatchObject({ permanent: true, type: 'InvalidInput' });
    expect(classifyFailure(new PayloadTooLargeError('the result of planRun', 3_000_000, 2_000_000))).toMatchObject({
      permanent: true,
      type: 'PayloadTooLarge',
    });
  });

  it('a start Temporal refuses as invalid is permanent; unavailable, deadline and others are not', () => {
    const refused = new Error('start failed', { cause: grpcError(3, 'Blob data size exceeds limit.') });
    expect(classifyFailure(refused)).toMatchObject({ permanent: true, type: 'RequestRejected' });
    for (const code of [4, 8, 13, 14]) expect(classifyFailure(grpcError(code, 'x'))).toEqual({ permanent: false });
  });

  it('respects ApplicationFailure as thrown', () => {
    expect(classifyFailure(ApplicationFailure.nonRetryable('no', 'ContextFailed'))).toMatchObject({
      permanent: true,
      type: 'ContextFailed',
    });
    expect(classifyFailure(ApplicationFailure.retryable('later'))).toEqual({ permanent: false });
  });

  it('anything else is retryable', () => {
    for (const error of [
      new Error('boom'),
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      'text',
      null,
      42,
    ]) {
      expect(classifyFailure(error)).toEqual({ permanent: false });
    }
  });
});

describe('toActivityFailure', () => {
  it('turns a permanent failure into a non-retryable ApplicationFailure of its type, with a storable message', () => {
    const error = pgError('22P05', 'bad \u0000 value');
    const failure = toActivityFailure(error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'DataRejected', nonRetryable: true, cause: error });
    expect((failure as ApplicationFailure).message).not.toContain('\u0000');
  });

  it('passes a retryable failure through unchanged', () => {
    const error = pgError('40001', 'serialization failure');
    expect(toActivityFailure(error)).toBe(error);
  });
});
