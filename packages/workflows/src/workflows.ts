// The one workflow entry module the worker bundles. Workflow code only: no Node built-ins,
// no IO; activities are imported as types.

export { EventWindowWorkflow } from './event-window.workflow.ts';
export { RunActivityWorkflow } from './run-activity.workflow.ts';
export { TaskInstanceWorkflow } from './task-instance.workflow.ts';
