import { randomUUID } from 'node:crypto';
import {
  followRunLog,
  getDefinition,
  getRun,
  listDefinitionRunLog,
  listRunEvents,
  listRuns,
  RUN_LOG_KINDS,
  RUN_STATUSES,
  RUN_TRIGGER_KINDS,
  readRunLog,
} from '@activity-core/db';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { type Page, type Run, type RunDetail, type RunLogEntry, toRun, toRunEvent, toRunLogEntry } from '../dto.ts';
import { invalidInput } from '../errors.ts';
import { assertBoundedValue, Id, limitsOf, PageInput, Text, Timestamp, toDate } from '../inputs.ts';
import type { Principal } from '../scopes.ts';
import { readProcedure, router, writeProcedure } from '../trpc.ts';

const RunStatus = z.enum(RUN_STATUSES);

/** Events of a window run that `runs.get` returns (the first ones, in join order). */
export const RUN_EVENTS_IN_GET = 1_000;

/** What `runs.trigger` answers. */
export interface TriggerResult {
  workflowId: string;
  started: boolean;
  /** The manual run's idempotency key; for `{ runId }`, the window run's trigger key. */
  idempotencyKey: string;
  definitionVersion: number;
}

/**
 * Closes (`close`) or discards (`discard`) a waiting window run through its key's window
 * workflow, and answers the run as it is afterwards. CONFLICT when it is not a waiting window.
 */
async function actOnWindow(
  ctx: ApiContext & { principal: Principal },
  runId: string,
  action: 'close' | 'discard',
  reason?: string,
): Promise<Run> {
  const run = await getRun(ctx.deps.db, runId);
  if (run.status !== 'waiting' || run.window === null) {
    const what = run.window === null ? `a ${run.triggerKind} run` : 'a window that is no longer open';
    throw new TRPCError({ code: 'CONFLICT', message: `run ${run.id} is ${run.status}: ${what}, not a waiting window` });
  }
  await ctx.deps.closeWindow(
    { definitionId: run.definitionId, keyHash: run.window.keyHash },
    { runId: run.id, action, by: ctx.principal.name, ...(reason !== undefined ? { reason } : {}) },
  );
  // The window workflow has closed the run when the update returns.
  return toRun(await getRun(ctx.deps.db, run.id));
}

export const runsRouter = router({
  list: readProcedure
    .input(
      z.object({
        ...PageInput,
        definitionId: Id.optional(),
        status: z.union([RunStatus, z.array(RunStatus).max(RUN_STATUSES.length)]).optional(),
        triggerKind: z.enum(RUN_TRIGGER_KINDS).optional(),
        /** created at or after */
        createdFrom: Timestamp.optional(),
        /** created before */
        createdTo: Timestamp.optional(),
      }),
    )
    .query(async ({ ctx, input }): Promise<Page<Run>> => {
      const page = await listRuns(ctx.deps.db, {
        limit: input.limit,
        cursor: input.cursor ?? null,
        ...(input.definitionId !== undefined ? { definitionId: input.definitionId } : {}),
        ...(input.status !== undefined ? { status: input.status } : {}),
        ...(input.triggerKind !== undefined ? { triggerKind: input.triggerKind } : {}),
        ...(input.createdFrom !== undefined ? { createdFrom: toDate(input.createdFrom) } : {}),
        ...(input.createdTo !== undefined ? { createdTo: toDate(input.createdTo) } : {}),
      });
      return { items: page.items.map(toRun), nextCursor: page.nextCursor };
    }),

  /** A run; for a window run also the events that joined its window so far (`events`). */
  get: readProcedure.input(z.object({ id: Id })).query(async ({ ctx, input }): Promise<RunDetail> => {
    const run = await getRun(ctx.deps.db, input.id);
    const events =
      run.triggerKind === 'window'
        ? (await listRunEvents(ctx.deps.db, run.id, { limit: RUN_EVENTS_IN_GET })).map(toRunEvent)
        : null;
    return { ...toRun(run), events };
  }),

  /**
   * The run log: of one run (`runId`, in sequence order, `afterSeq` to follow it), or of every
   * run of a definition (`definitionId`, newest first, keyset-paginated).
   */
  logs: readProcedure
    .input(
      z
        .object({
          ...PageInput,
          runId: Id.optional(),
          afterSeq: z.number().int().min(0).optional(),
          definitionId: Id.optional(),
          kinds: z.array(z.enum(RUN_LOG_KINDS)).max(RUN_LOG_KINDS.length).optional(),
        })
        .superRefine((v, c) => {
          if ((v.runId === undefined) === (v.definitionId === undefined)) {
            c.addIssue({ code: 'custom', path: ['runId'], message: 'give exactly one of runId or definitionId' });
          }
        }),
    )
    .query(async ({ ctx, input }): Promise<Page<RunLogEntry>> => {
      if (input.runId !== undefined) {
        await getRun(ctx.deps.db, input.runId);
        let afterSeq = input.afterSeq;
        if (afterSeq === undefined && input.cursor) {
          if (!/^\d{1,9}$/.test(input.cursor))
            invalidInput([{ path: 'cursor', message: 'not a cursor returned by this list' }]);
          afterSeq = Number(input.cursor);
        }
        const entries = await readRunLog(ctx.deps.db, input.runId, {
          limit: input.limit,
          ...(afterSeq !== undefined ? { afterSeq } : {}),
        });
        const kinds = input.kinds;
        const items = (kinds ? entries.filter((e) => kinds.includes(e.kind)) : entries).map(toRunLogEntry);
        // Following a run's log: the next page starts after the last sequence number seen.
        const last = entries[entries.length - 1];
        return { items, nextCursor: entries.length === input.limit && last ? String(last.seq) : null };
      }
      await getDefinition(ctx.deps.db, input.definitionId as string);
      const page = await listDefinitionRunLog(ctx.deps.db, input.definitionId as string, {
        limit: input.limit,
        cursor: input.cursor ?? null,
        ...(input.kinds !== undefined ? { kinds: input.kinds } : {}),
      });
      return { items: page.items.map(toRunLogEntry), nextCursor: page.nextCursor };
    }),

  /**
   * Follows the run log as it is written: each call returns the entries committed since the
   * call that returned `cursor`, each exactly once, in commit order (a first call without a
   * cursor returns none and starts following from now). Poll it; `more` says the next page is
   * ready at once.
   */
  follow: readProcedure
    .input(
      z.object({
        definitionId: Id.optional(),
        cursor: z.string().min(1).max(16_384).optional(),
        limit: z.number().int().min(1).max(500).default(200),
      }),
    )
    .query(async ({ ctx, input }): Promise<{ items: RunLogEntry[]; cursor: string; more: boolean }> => {
      if (input.definitionId !== undefined) await getDefinition(ctx.deps.db, input.definitionId);
      const page = await followRunLog(ctx.deps.db, {
        limit: input.limit,
        ...(input.definitionId !== undefined ? { definitionId: input.definitionId } : {}),
        ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
      });
      return { items: page.items.map(toRunLogEntry), cursor: page.cursor, more: page.more };
    }),

  /**
   * `{ definitionId }`: starts a manual run. The same `idempotencyKey` for the same definition
   * starts at most one run (its workflow id is `run:{definitionId}:manual:{idempotencyKey}`);
   * without one, each call starts a new run.
   *
   * `{ runId }` of a `waiting` window run: closes the window now; its run starts with the
   * events so far (close reason `closed`), and the answer names it (`idempotencyKey` is its
   * trigger key). CONFLICT when the window is no longer open.
   */
  trigger: writeProcedure
    .input(
      z
        .object({
          definitionId: Id.optional(),
          runId: Id.optional(),
          idempotencyKey: Text(200)
            .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces, e.g. a UUID')
            .optional(),
          /** Visible to expressions as `trigger.payload`. */
          payload: z.json().optional(),
        })
        .superRefine((v, c) => {
          if ((v.definitionId === undefined) === (v.runId === undefined)) {
            c.addIssue({
              code: 'custom',
              path: ['definitionId'],
              message: 'give exactly one of definitionId or runId',
            });
          }
          if (v.runId !== undefined) {
            for (const field of ['idempotencyKey', 'payload'] as const) {
              if (v[field] !== undefined) {
                c.addIssue({ code: 'custom', path: [field], message: 'only with definitionId (a manual run)' });
              }
            }
          }
        }),
    )
    .mutation(async ({ ctx, input }): Promise<TriggerResult> => {
      if (input.runId !== undefined) {
        const run = await actOnWindow(ctx, input.runId, 'close');
        return {
          workflowId: run.workflowId,
          started: true,
          idempotencyKey: run.triggerKey,
          definitionVersion: run.definitionVersion,
        };
      }
      if (input.payload !== undefined) assertBoundedValue(input.payload, ['payload'], limitsOf(ctx.deps).input);
      const definition = await getDefinition(ctx.deps.db, input.definitionId as string);
      if (definition.archivedAt !== null) {
        throw new TRPCError({ code: 'CONFLICT', message: `definition ${definition.id} is archived` });
      }
      const idempotencyKey = input.idempotencyKey ?? randomUUID();
      const result = await ctx.deps.startRun({
        definitionId: definition.id,
        version: definition.version,
        trigger: {
          kind: 'manual',
          requestedBy: ctx.principal.name,
          idempotencyKey,
          ...(input.payload !== undefined ? { payload: input.payload } : {}),
        },
      });
      return { ...result, idempotencyKey, definitionVersion: definition.version };
    }),

  /**
   * Discards a `waiting` window run: the window closes (reason `discarded`), the run ends
   * `cancelled` and spawns nothing; its events stay claimed by it (a redelivery does not open
   * a new window with them). CONFLICT for any other run: a run that started is not cancelled,
   * its tasks are (`tasks.cancel`).
   */
  cancel: writeProcedure
    .input(z.object({ id: Id, reason: Text(2_000).optional() }))
    .mutation(({ ctx, input }): Promise<Run> => actOnWindow(ctx, input.id, 'discard', input.reason)),
});
