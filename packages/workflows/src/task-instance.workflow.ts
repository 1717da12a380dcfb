import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from './activity-contract.ts';
import type { TaskActionInput, TaskInstanceInput, TaskStatusView } from './contract.ts';
import { FailureTypes } from './failure-types.ts';
import { cancelTaskUpdate, completeTaskUpdate, taskStatusQuery } from './updates-and-queries.ts';

// Database-only local activities (no task-queue round trip): transient failures (database
// down) retry until it is back.
const { createTask, closeTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '20 seconds' },
});

type Closing = { readonly to: 'completed' | 'cancelled'; readonly action: TaskActionInput };

/**
 * One task's lifecycle. Its run writes the TaskInstance row and its `tasks.created.{key}` event
 * once this workflow has started (`input.taskId` set); the workflow holds the task until
 * `complete` or `cancel` (Updates, with who and why) or the expiry timer (due time plus grace)
 * closes it. Each transition writes the row, the event and the run-log entry exactly once; a
 * close that comes before the run wrote the row (an expiry already due) retries until it is
 * there. Tasks of runs recorded before runs wrote their tasks (no `taskId`) write their own row
 * and event first (`createTask`), as their histories did.
 */
export async function TaskInstanceWorkflow(input: TaskInstanceInput): Promise<TaskStatusView> {
  const { workflowId } = workflowInfo();
  let view: TaskStatusView = {
    workflowId,
    taskId: input.taskId ?? null,
    status: input.taskId === undefined ? 'creating' : 'open',
    by: null,
    reason: null,
  };
  let closing: Closing | undefined;
  let expiring = false;

  setHandler(taskStatusQuery, () => view);
  const validator = (action: TaskActionInput): void => {
    if (closing !== undefined || expiring || (view.status !== 'open' && view.status !== 'creating')) {
      throw ApplicationFailure.create({
        type: FailureTypes.taskNotOpen,
        message: `task is ${closing ? `being ${closing.to}` : expiring ? 'expiring' : view.status}`,
        nonRetryable: true,
      });
    }
    if (typeof action?.by !== 'string' || action.by.trim() === '') {
      throw ApplicationFailure.create({ type: 'InvalidInput', message: '`by` is required', nonRetryable: true });
    }
  };
  const handler = (to: Closing['to']) => async (action: TaskActionInput) => {
    closing = { to, action };
    await condition(() => view.status !== 'open' && view.status !== 'creating');
    return view;
  };
  setHandler(completeTaskUpdate, handler('completed'), { validator });
  setHandler(cancelTaskUpdate, handler('cancelled'), { validator });

  let taskId = input.taskId;
  if (taskId === undefined) {
    const created = await createTask(input);
    taskId = created.taskId;
    view = { ...view, taskId, status: created.status, by: created.by, reason: created.reason };
  }
  if (view.status === 'open') {
    const expiresAt = input.task.expiresAt === null ? undefined : Date.parse(input.task.expiresAt);
    if (expiresAt === undefined) {
      await condition(() => closing !== undefined);
    } else {
      await condition(() => closing !== undefined, Math.max(1, expiresAt - Date.now()));
    }
    // An update accepted in the same activation as the timer wins: its caller was told yes.
    if (closing === undefined) expiring = true;
    const closed = await closeTask({
      task: input,
      taskId,
      to: closing?.to ?? 'expired',
      ...(closing ? { action: closing.action } : {}),
    });
    view = { ...view, status: closed.status, by: closed.by, reason: closed.reason };
  }
  await condition(allHandlersFinished);
  return view;
}
