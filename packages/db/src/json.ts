import type { z } from 'zod';
import { CorruptRowError } from './errors.ts';

/** Parse a stored JSON value; a mismatch names the table, row and field. */
export function parseColumn<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: { table: string; rowId: string; field: string },
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new CorruptRowError({ ...where, issues: result.error.issues }, { cause: result.error });
  }
  return result.data;
}

/** Serialize for a jsonb parameter (pg would turn a JS array into a PostgreSQL array literal). */
export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

export function toNullableJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
