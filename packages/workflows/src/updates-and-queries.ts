// The Temporal signal, update and query handles of the workflows (`defineUpdate` / `defineQuery`).
// Pure names and types: imported by the workflow code and by clients (API, tests) alike.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RunActivityResult, TaskActionInput, TaskStatusView } from './contract.ts';
import type { CloseWindowRequest, CloseWindowResult, WindowEventSignal, WindowView } from './window-contract.ts';

/** Closes an open task as completed. Rejected (validator) when the task is not open. */
export const completeTaskUpdate = defineUpdate<TaskStatusView, [TaskActionInput]>('complete');
/** Closes an open task as cancelled. Rejected (validator) when the task is not open. */
export const cancelTaskUpdate = defineUpdate<TaskStatusView, [TaskActionInput]>('cancel');
/** The task's lifecycle state as the workflow holds it. */
export const taskStatusQuery = defineQuery<TaskStatusView>('status');

/** Where a run is: its step and, once planned, how many children are started. */
export interface RunProgress {
  readonly step: 'recording' | 'loading' | 'misfire' | 'context' | 'planning' | 'spawning' | 'finishing' | 'done';
  readonly runId: string | null;
  readonly tasksPlanned: number | null;
  readonly tasksStarted: number;
  readonly result: RunActivityResult | null;
}
export const runStatusQuery = defineQuery<RunProgress>('status');

/** One event for a key's window workflow; ingest sends it with signal-with-start. */
export const windowEventSignal = defineSignal<[WindowEventSignal]>('windowEvent');
/**
 * Closes the open window now (`close`: its run starts) or discards it (`discard`). Resolves once
 * the window is closed; rejected (validator) when the window is not this workflow's open one.
 */
export const closeWindowUpdate = defineUpdate<CloseWindowResult, [CloseWindowRequest]>('closeWindow');
/** The open window and the events waiting to be handled. */
export const windowQuery = defineQuery<WindowView>('window');
