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
export type { FailureType, RunProgress } from './definitions.ts';
export { cancelTaskUpdate, completeTaskUpdate, FailureTypes, runStatusQuery, taskStatusQuery } from './definitions.ts';
export { TaskConflictError, TaskNotFoundError, WorkflowClientErrorCode } from './errors.ts';
export { runTriggerKey, runWorkflowIdFor } from './ids.ts';
