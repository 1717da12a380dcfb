import {
  DEFAULT_EXPRESSION_LIMITS,
  type ExpressionLimits,
  type InputLimits,
  inspectJson,
  Rfc3339,
} from '@activity-core/core';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '@activity-core/db';
import { z } from 'zod';
import { invalidInput } from './errors.ts';

/** UUIDs of rows (any version; the db generates v7). */
export const Id = z.uuid({ message: 'expected a UUID' });

/** A strict RFC 3339 timestamp, e.g. `2026-01-31T09:00:00Z` (core's one timestamp rule). */
export const Timestamp = Rfc3339;

export const PageInput = {
  /** `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(1024).nullish(),
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
};

/** Text that is not absurdly long (that every string is storable is checked for every input, see trpc.ts). */
export const Text = (max: number) => z.string().max(max);

/**
 * Levels a procedure's own fields add above the free-form values it carries: the deepest is
 * `definition.contextSources[0].value` of `definitions.dryRun`. The check of the whole input
 * allows this many beyond the limit; each value is then held to the limit itself.
 */
export const INPUT_FRAME_DEPTH = 4;

/** The installation's CEL budget and input limits (`AC_CEL_*`, `AC_INPUT_MAX_*`), or core's defaults. */
export function limitsOf(deps: { readonly expressionLimits?: ExpressionLimits | undefined }): ExpressionLimits {
  return deps.expressionLimits ?? DEFAULT_EXPRESSION_LIMITS;
}

/**
 * BAD_REQUEST naming the place when a free-form value (event data, a payload, a task result)
 * is nested deeper than the limit, holds a list, map or string over it, or text PostgreSQL
 * cannot store: the same rule ingest dead-letters by.
 */
export function assertBoundedValue(value: unknown, path: ReadonlyArray<string | number>, limits: InputLimits): void {
  const problem = inspectJson(value, limits, path);
  if (problem) invalidInput([{ path: problem.path, message: problem.message }]);
}

export function toDate(value: string | undefined): Date | undefined {
  return value === undefined ? undefined : new Date(value);
}
