import { cronSchedule, occurrencesBetween } from '@activity-core/core';
import { getDefinition } from '@activity-core/db';
import type { ScheduleState } from '@activity-core/schedules';
import { z } from 'zod';
import { invalidInput } from '../errors.ts';
import { Id, Timestamp } from '../inputs.ts';
import { adminProcedure, readProcedure, router, writeProcedure } from '../trpc.ts';

/** Most occurrences one backfill may replay; a larger range is refused, not truncated. */
export const MAX_BACKFILL_OCCURRENCES = 1000;

/**
 * The Temporal Schedule behind a cron definition. Pausing and resuming is
 * `definitions.setEnabled`; the preview of fire times is `definitions.previewSchedule`.
 */
export const schedulesRouter = router({
  /** Last and next fires, fires taken and missed, and the misfire outcomes recorded as runs. */
  describe: readProcedure
    .input(z.object({ definitionId: Id }))
    .query(async ({ ctx, input }): Promise<ScheduleState> => ctx.deps.schedules.describe(input.definitionId)),

  /** Starts one occurrence now (its nominal time is now), beside any running ones. */
  trigger: writeProcedure
    .input(z.object({ definitionId: Id }))
    .mutation(async ({ ctx, input }): Promise<{ triggered: true }> => {
      await ctx.deps.schedules.trigger(input.definitionId);
      return { triggered: true };
    }),

  /**
   * Replays the occurrences in [start, end]. Each is judged by the definition's misfire policy
   * like any late occurrence (skip, fire_once, fire_all with its cap) and recorded as a run.
   */
  backfill: writeProcedure
    .input(z.object({ definitionId: Id, start: Timestamp, end: Timestamp }))
    .mutation(async ({ ctx, input }): Promise<{ occurrences: number }> => {
      const start = new Date(input.start);
      const end = new Date(input.end);
      if (!(start < end)) invalidInput([{ path: 'end', message: 'must be after start' }]);
      const now = ctx.deps.now?.() ?? new Date();
      if (end > now) invalidInput([{ path: 'end', message: 'must not be in the future' }]);
      const definition = await getDefinition(ctx.deps.db, input.definitionId);
      if (definition.spec.trigger.kind !== 'cron') {
        invalidInput([{ path: 'definitionId', message: 'not a cron definition' }]);
      }
      // The Schedule's spec holds its compiled window only: Temporal would replay nothing before it.
      const { horizon } = await ctx.deps.schedules.describe(input.definitionId);
      if (horizon.start !== undefined && start < new Date(horizon.start)) {
        invalidInput([
          {
            path: 'start',
            message: `must not be before ${horizon.start}, where the Schedule's compiled window begins`,
          },
        ]);
      }
      // The engine's occurrences in [start, end]: exactly what Temporal replays from the spec.
      const occurrences = occurrencesBetween(
        cronSchedule(definition.spec.trigger.cron),
        start.getTime() - 1,
        end.getTime(),
      ).length;
      if (occurrences > MAX_BACKFILL_OCCURRENCES) {
        invalidInput([
          {
            path: 'end',
            message: `the range holds more than ${MAX_BACKFILL_OCCURRENCES} occurrences; backfill it in parts`,
          },
        ]);
      }
      await ctx.deps.schedules.backfill(input.definitionId, { start, end });
      return { occurrences };
    }),

  /** Brings the definition's Schedule in line with the database now (normally automatic). */
  reconcile: adminProcedure.input(z.object({ definitionId: Id })).mutation(
    async ({ ctx, input }): Promise<{ outcome: string }> => ({
      outcome: await ctx.deps.schedules.reconcile(input.definitionId),
    }),
  ),
});
