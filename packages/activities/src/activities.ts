import type { Activities } from '@activity-core/workflows';
import type { ActivityDeps } from './deps.ts';
import { createRunActivities } from './run-activities.ts';
import { createTaskActivities } from './task-activities.ts';

/**
 * Every activity of RunActivityWorkflow and TaskInstanceWorkflow, bound to its dependencies.
 * Register the result on the worker.
 */
export function createActivities(deps: ActivityDeps): Activities {
  return { ...createRunActivities(deps), ...createTaskActivities(deps) };
}
