// Helpers for the processes that start and drive workflows (ingest, API, schedules).

import { runWorkflowIdFor } from '@activity-core/core';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type RunActivityInput, type TaskActionInput, type TaskStatusView, WorkflowTypes } from './contract.ts';
import { TaskConflictError, TaskNotFoundError } from './errors.ts';
import { FailureTypes } from './failure-types.ts';
import { cancelTaskUpdate, completeTaskUpdate } from './updates-and-queries.ts';

export interface StartRunActivityOptions {
  readonly taskQueue: string;
  readonly input: RunActivityInput;
}

export interface StartRunActivityResult {
  readonly workflowId: string;
  /** False when a run with this id already exists (running, or closed within retention). */
  readonly started: boolean;
}

/**
 * Starts the RunActivityWorkflow of a trigger under its deterministic id
 * (`run:{definitionId}:{eventKey}` / `:cron:{nominalTime}` / `:manual:{key}`). Idempotent: a
 * second call for the same trigger starts nothing and returns `started: false`, whether the
 * first run is still running or already closed. Only errors that mean "not accepted" throw,
 * so callers ack their input after this resolves.
 *
 * Conflict handling is `FAIL` + `REJECT_DUPLICATE` with the already-started error caught, not
 * `USE_EXISTING`: the effect is the same, and the TS client does not surface the server's
 * `started` flag, which callers need for metrics and logs.
 *
 * @example
 * const { workflowId, started } = await startRunActivity(client, {
 *   taskQueue: 'activity-core',
 *   input: { definitionId, trigger: { kind: 'event', envelope } },
 * });
 */
export async function startRunActivity(
  client: Client,
  options: StartRunActivityOptions,
): Promise<StartRunActivityResult> {
  const workflowId = runWorkflowIdFor(options.input);
  try {
    await client.workflow.start(WorkflowTypes.runActivity, {
      taskQueue: options.taskQueue,
      workflowId,
      args: [options.input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return { workflowId, started: true };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
    throw error;
  }
}

/**
 * Completes an open task. Resolves once the row, its `tasks.completed.*` outbox event and the
 * run-log entry are written. Throws `TaskNotFoundError` (NOT_FOUND) when no such task workflow
 * exists, `TaskConflictError` (CONFLICT) when the task is not open.
 */
export async function completeTask(
  client: Client,
  taskWorkflowId: string,
  input: TaskActionInput,
): Promise<TaskStatusView> {
  return actOnTask(client, taskWorkflowId, 'complete', input);
}

/** Cancels an open task; errors as for {@link completeTask}. */
export async function cancelTask(
  client: Client,
  taskWorkflowId: string,
  input: TaskActionInput,
): Promise<TaskStatusView> {
  return actOnTask(client, taskWorkflowId, 'cancel', input);
}

async function actOnTask(
  client: Client,
  workflowId: string,
  action: 'complete' | 'cancel',
  input: TaskActionInput,
): Promise<TaskStatusView> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await handle.executeUpdate(action === 'complete' ? completeTaskUpdate : cancelTaskUpdate, { args: [input] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      if (error.cause instanceof ApplicationFailure && error.cause.type === FailureTypes.taskNotOpen) {
        throw new TaskConflictError(workflowId, error.cause.message, { cause: error });
      }
      throw error;
    }
    if (error instanceof WorkflowNotFoundError) {
      // Also what the server answers for an update to a closed workflow: tell the two apart.
      const closed = await handle.describe().then(
        (d) => d.status.name !== 'RUNNING',
        (e: unknown) => {
          if (e instanceof WorkflowNotFoundError) return false;
          throw e;
        },
      );
      if (closed) throw new TaskConflictError(workflowId, 'the task is no longer open', { cause: error });
      throw new TaskNotFoundError(workflowId, { cause: error });
    }
    throw error;
  }
}
