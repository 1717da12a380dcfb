export type {
  Activities,
  CloseTaskInput,
  CreateTaskResult,
  FinishRunInput,
  MisfireInput,
  PlannedChild,
  PlanRunInput,
  PlanRunResult,
  RecordFailedRunInput,
  RecordRunInput,
  RecordRunResult,
  RunActivities,
  RunContextInput,
  TaskActivities,
} from './activity-contract.ts';
export { causationOf } from './causation.ts';
export type { StartRunActivityOptions, StartRunActivityResult } from './client.ts';
export { cancelTask, completeTask, startRunActivity } from './client.ts';
export type {
  PlannedTask,
  RunActivityInput,
  RunActivityResult,
  RunTrigger,
  ScheduledRunInput,
  TaskActionInput,
  TaskCausation,
  TaskInstanceInput,
  TaskLifecycleStatus,
  TaskStatusView,
} from './contract.ts';
export { WorkflowTypes } from './contract.ts';
export { TaskConflictError, TaskNotFoundError, WorkflowClientErrorCode } from './errors.ts';
export type { FailureClass } from './failure-classification.ts';
export { classifyFailure, PayloadTooLargeError, toActivityFailure } from './failure-classification.ts';
export type { FailureType } from './failure-types.ts';
export { FailureTypes } from './failure-types.ts';
export type { RunSpawnState } from './run-activity.workflow.ts';
export type { RunProgress } from './updates-and-queries.ts';
export { cancelTaskUpdate, completeTaskUpdate, runStatusQuery, taskStatusQuery } from './updates-and-queries.ts';
