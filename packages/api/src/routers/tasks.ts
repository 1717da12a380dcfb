import { getTask, listTasks, TASK_STATUSES } from '@activity-core/db';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { type Page, type Task, toTask } from '../dto.ts';
import { assertBoundedValue, Id, limitsOf, PageInput, Text, Timestamp, toDate } from '../inputs.ts';
import type { Principal } from '../scopes.ts';
import { readProcedure, router, writeProcedure } from '../trpc.ts';

const TaskStatus = z.enum(TASK_STATUSES);

const TaskAction = z.object({
  id: Id,
  /** Why (kept with the task and in its event). */
  reason: Text(2_000).optional(),
  /** Who acts, when it is not the token's name (e.g. the end user behind a backend). */
  by: Text(200).min(1).optional(),
});

const CompleteInput = TaskAction.extend({ result: z.json().optional() });

async function act(
  ctx: ApiContext & { principal: Principal },
  action: 'complete' | 'cancel',
  input: z.infer<typeof CompleteInput>,
): Promise<Task> {
  if (input.result !== undefined) assertBoundedValue(input.result, ['result'], limitsOf(ctx.deps).input);
  const task = await getTask(ctx.deps.db, input.id);
  if (task.status !== 'open') {
    throw new TRPCError({ code: 'CONFLICT', message: `task ${task.id} is already ${task.status}` });
  }
  const args = {
    by: input.by ?? ctx.principal.name,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    ...(input.result !== undefined ? { result: input.result } : {}),
  };
  if (action === 'complete') await ctx.deps.completeTask(task.workflowId, args);
  else await ctx.deps.cancelTask(task.workflowId, args);
  // The workflow has written the row when the update returns.
  return toTask(await getTask(ctx.deps.db, task.id));
}

export const tasksRouter = router({
  list: readProcedure
    .input(
      z.object({
        ...PageInput,
        definitionId: Id.optional(),
        runId: Id.optional(),
        status: z.union([TaskStatus, z.array(TaskStatus).max(TASK_STATUSES.length)]).optional(),
        assignee: Text(200).optional(),
        /** Tasks that carry all of these labels. */
        labels: z.array(Text(1_000)).max(32).optional(),
        createdFrom: Timestamp.optional(),
        createdTo: Timestamp.optional(),
        dueBefore: Timestamp.optional(),
      }),
    )
    .query(async ({ ctx, input }): Promise<Page<Task>> => {
      const page = await listTasks(ctx.deps.db, {
        limit: input.limit,
        cursor: input.cursor ?? null,
        ...(input.definitionId !== undefined ? { definitionId: input.definitionId } : {}),
        ...(input.runId !== undefined ? { runId: input.runId } : {}),
        ...(input.status !== undefined ? { status: input.status } : {}),
        ...(input.assignee !== undefined ? { assignee: input.assignee } : {}),
        ...(input.labels !== undefined ? { labels: input.labels } : {}),
        ...(input.createdFrom !== undefined ? { createdFrom: toDate(input.createdFrom) } : {}),
        ...(input.createdTo !== undefined ? { createdTo: toDate(input.createdTo) } : {}),
        ...(input.dueBefore !== undefined ? { dueBefore: toDate(input.dueBefore) } : {}),
      });
      return { items: page.items.map(toTask), nextCursor: page.nextCursor };
    }),

  get: readProcedure
    .input(z.object({ id: Id }))
    .query(async ({ ctx, input }): Promise<Task> => toTask(await getTask(ctx.deps.db, input.id))),

  /** Completes an open task through its workflow. Unknown id: NOT_FOUND; not open: CONFLICT. */
  complete: writeProcedure.input(CompleteInput).mutation(({ ctx, input }) => act(ctx, 'complete', input)),

  /** Cancels an open task through its workflow. Unknown id: NOT_FOUND; not open: CONFLICT. */
  cancel: writeProcedure.input(TaskAction).mutation(({ ctx, input }) => act(ctx, 'cancel', input)),
});
