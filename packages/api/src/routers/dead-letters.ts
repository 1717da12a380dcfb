import type { DeadLetterDetail, DeadLetterPage } from '@activity-core/ingest';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure, readProcedure, router } from '../trpc.ts';
import { isSubjectFilter, SubjectFilterMessage } from './subjects.ts';

const Filters = {
  /** Only dead letters of this original subject (NATS wildcards), e.g. `events.order.>` or `order.>`. */
  subject: z.string().max(255).refine(isSubjectFilter, SubjectFilterMessage).optional(),
  /** Only dead letters with this reason code, e.g. `max_depth`, `invalid_json`. */
  reason: z
    .string()
    .regex(/^[a-z0-9_]{1,64}$/, 'a reason code such as max_depth')
    .optional(),
};

/**
 * The dead-letter stream `AC_DLQ`, read only: what was parked and why. Moving letters back is
 * `events.redrive`, with the same filters.
 */
export const deadLettersRouter = router({
  /** Oldest first, headers only (no bodies); `afterSeq` = the previous page's `nextSeq`. */
  list: readProcedure
    .input(
      z.object({
        ...Filters,
        afterSeq: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(
      ({ ctx, input }): Promise<DeadLetterPage> =>
        ctx.deps.deadLetters.list({
          limit: input.limit,
          ...(input.subject !== undefined ? { subject: input.subject } : {}),
          ...(input.reason !== undefined ? { reason: input.reason } : {}),
          ...(input.afterSeq !== undefined ? { afterSeq: input.afterSeq } : {}),
        }),
    ),

  /** One dead letter with every header and its body (base64, and text when it is UTF-8). Admin: bodies and headers are the producer's raw bytes. */
  get: adminProcedure
    .input(z.object({ seq: z.number().int().min(1) }))
    .query(async ({ ctx, input }): Promise<DeadLetterDetail> => {
      const letter = await ctx.deps.deadLetters.get(input.seq);
      if (!letter) throw new TRPCError({ code: 'NOT_FOUND', message: `no dead letter with sequence ${input.seq}` });
      return letter;
    }),
});
