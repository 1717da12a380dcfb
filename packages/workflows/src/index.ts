export type {
  Activities,
  BeginRunInput,
  BeginRunResult,
  CloseTaskInput,
  CloseWindowActivityInput,
  CloseWindowActivityResult,
  CreateTaskResult,
  FinishRunInput,
  JoinVerdict,
  JoinWindowCandidate,
  JoinWindowInput,
  JoinWindowResult,
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
  WindowActivities,
  WriteTasksInput,
} from './activity-contract.ts';
export { causationOf } from './causation.ts';
export type { SignalWindowEventOptions, StartRunActivityOptions, StartRunActivityResult } from './client.ts';
export { cancelTask, closeEventWindow, completeTask, signalWindowEvent, startRunActivity } from './client.ts';
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
export { TaskConflictError, TaskNotFoundError, WindowConflictError, WorkflowClientErrorCode } from './errors.ts';
export type { FailureType } from './failure-types.ts';
export { FailureTypes } from './failure-types.ts';
export type { RunSpawnState } from './run-activity.workflow.ts';
export type { RunProgress } from './updates-and-queries.ts';
export {
  cancelTaskUpdate,
  closeWindowUpdate,
  completeTaskUpdate,
  runStatusQuery,
  taskStatusQuery,
  windowEventSignal,
  windowQuery,
} from './updates-and-queries.ts';
export type {
  CloseWindowRequest,
  CloseWindowResult,
  EventWindowCarry,
  EventWindowInput,
  EventWindowResult,
  OpenWindow,
  OpenWindowRef,
  WindowArrival,
  WindowEventSignal,
  WindowView,
} from './window-contract.ts';
