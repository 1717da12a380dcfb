import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '@activity-core/db';
import { z } from 'zod';

/** UUIDs of rows (any version; the db generates v7). */
export const Id = z.uuid({ message: 'expected a UUID' });

/** ISO 8601 timestamp with offset, e.g. `2026-01-31T09:00:00Z`. */
export const Timestamp = z.iso.datetime({
  offset: true,
  message: 'expected an ISO 8601 timestamp, e.g. 2026-01-31T09:00:00Z',
});

export const PageInput = {
  /** `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(1024).nullish(),
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
};

/** Text that PostgreSQL can store (no NUL) and that is not absurdly long. */
export const Text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export function toDate(value: string | undefined): Date | undefined {
  return value === undefined ? undefined : new Date(value);
}
