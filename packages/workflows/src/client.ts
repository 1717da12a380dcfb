// Helpers for the processes that start and drive workflows (ingest, API, schedules).

import { type EventEnvelope, runWorkflowIdFor, windowWorkflowId } from '@activity-core/core';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type RunActivityInput, type TaskActionInput, type TaskStatusView, WorkflowTypes } from './contract.ts';
import { TaskConflictError, TaskNotFoundError, WindowConflictError } from './errors.ts';
import { FailureTypes } from './failure-types.ts';
import { cancelTaskUpdate, closeWindowUpdate, completeTaskUpdate, windowEventSignal } from './updates-and-queries.ts';
import type { CloseWindowRequest, CloseWindowResult, EventWindowInput } from './window-contract.ts';

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

export interface SignalWindowEventOptions {
  readonly taskQueue: string;
  readonly definitionId: string;
  /** The definition version the event matched. */
  readonly version: number;
  /** The event's window key and its hash (`evaluateWindowKey`). */
  readonly key: string;
  readonly keyHash: string;
  readonly envelope: EventEnvelope;
}

/**
 * Hands one event to its key's window: signal-with-start of `EventWindowWorkflow` under
 * `window:{definitionId}:{keyHash}`. Signals the running window workflow, or starts it (with
 * the signal) when the key has none running: conflict policy `USE_EXISTING`, reuse policy
 * `ALLOW_DUPLICATE` (this id names the key, not a window; each window's run has an id of its
 * own). Resolves once Temporal accepted the signal, so callers ack their input after it. A
 * repeated call (redelivery) signals again; the window workflow recognises the event.
 */
export async function signalWindowEvent(
  client: Client,
  options: SignalWindowEventOptions,
): Promise<{ workflowId: string }> {
  const workflowId = windowWorkflowId(options.definitionId, options.keyHash);
  const input: EventWindowInput = { definitionId: options.definitionId, key: options.key, keyHash: options.keyHash };
  await client.workflow.signalWithStart(WorkflowTypes.eventWindow, {
    taskQueue: options.taskQueue,
    workflowId,
    args: [input],
    signal: windowEventSignal,
    signalArgs: [{ envelope: options.envelope, version: options.version }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return { workflowId };
}

/**
 * Closes a waiting window now (`close`: its run starts with the events so far) or discards it
 * (`discard`: its run ends `cancelled`, nothing spawns). Resolves once the window is closed.
 * Throws `WindowConflictError` (CONFLICT) when the window is no longer open.
 */
export async function closeEventWindow(
  client: Client,
  window: { readonly definitionId: string; readonly keyHash: string },
  request: CloseWindowRequest,
): Promise<CloseWindowResult> {
  const workflowId = windowWorkflowId(window.definitionId, window.keyHash);
  let result: CloseWindowResult;
  try {
    result = await client.workflow.getHandle(workflowId).executeUpdate(closeWindowUpdate, { args: [request] });
  } catch (error) {
    const notOpen =
      error instanceof WorkflowNotFoundError ||
      (error instanceof WorkflowUpdateFailedError &&
        error.cause instanceof ApplicationFailure &&
        error.cause.type === FailureTypes.windowNotOpen);
    if (notOpen) throw new WindowConflictError(request.runId, 'the window is no longer open', { cause: error });
    throw error;
  }
  if (result.outcome === 'not_open') {
    const why = result.reason ? `it closed already (${result.reason})` : 'it is no longer open';
    throw new WindowConflictError(request.runId, why);
  }
  return result;
}
