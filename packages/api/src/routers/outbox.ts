import { listOutbox, retryOutboxRowNow, skipOutboxRow } from '@activity-core/db';
import { z } from 'zod';
import { type OutboxEntry, toOutboxEntry } from '../dto.ts';
import { Id, Text } from '../inputs.ts';
import { adminProcedure, readProcedure, router } from '../trpc.ts';

/** A `seq` as `nextSeq` returns it (within 2^53, as the database package reads bigints). */
const Seq = z.string().regex(/^[1-9][0-9]{0,14}$/, 'a seq as returned in nextSeq');

/**
 * The task-event outbox, for operators: the rows not published yet, in write order, and the two
 * ways out for a row that cannot be published (`retry` now, or `skip` it). A row waits while an
 * earlier unpublished row of its task exists (`waitingFor`), so one stuck row holds back only
 * its own task's later events.
 */
export const outboxRouter = router({
  /**
   * Rows in write order (no bodies): `pending` (unpublished), `failing` (unpublished, the last
   * publish failed) or `skipped` (given up by an operator, with who and why).
   */
  list: readProcedure
    .input(
      z.object({
        state: z.enum(['pending', 'failing', 'skipped']).default('pending'),
        afterSeq: Seq.optional(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(async ({ ctx, input }): Promise<{ items: OutboxEntry[]; nextSeq: string | null }> => {
      const page = await listOutbox(ctx.deps.db, {
        state: input.state,
        limit: input.limit,
        ...(input.afterSeq !== undefined ? { afterSeq: input.afterSeq } : {}),
      });
      return { items: page.items.map(toOutboxEntry), nextSeq: page.nextSeq };
    }),

  /**
   * Make a row due now instead of after its backoff. NOT_FOUND; CONFLICT when it is published,
   * being published right now, or waits for an earlier row of its task.
   */
  retry: adminProcedure.input(z.object({ id: Id })).mutation(async ({ ctx, input }) => {
    await retryOutboxRowNow(ctx.deps.db, input.id);
    ctx.deps.logger.info('outbox row made due now', { id: input.id, by: ctx.principal.name });
    return { id: input.id, retried: true as const };
  }),

  /**
   * Give up on a row: marked published without being sent, with who and why kept on the row, so
   * its task's later events go. Errors as for `retry`.
   */
  skip: adminProcedure
    .input(z.object({ id: Id, reason: Text(2_000).trim().min(1, 'say why the event is given up') }))
    .mutation(async ({ ctx, input }) => {
      await skipOutboxRow(ctx.deps.db, { id: input.id, by: ctx.principal.name, reason: input.reason });
      ctx.deps.logger.warn('outbox row skipped: its event will not be published', {
        id: input.id,
        by: ctx.principal.name,
        reason: input.reason,
      });
      return { id: input.id, skipped: true as const };
    }),
});
