// The Temporal update and query handles of the two workflows (`defineUpdate` / `defineQuery`).
// Pure names and types: imported by the workflow code and by clients (API, tests) alike.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { RunActivityResult, TaskActionInput, TaskStatusView } from './contract.ts';

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
