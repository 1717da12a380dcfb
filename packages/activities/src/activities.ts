import { utf8Length } from '@activity-core/core';
import { PayloadTooLargeError, toActivityFailure } from '@activity-core/failures';
import type { Activities } from '@activity-core/workflows';
import { type ActivityDeps, DEFAULT_MAX_ACTIVITY_RESULT_BYTES } from './deps.ts';
import { createRunActivities } from './run-activities.ts';
import { createTaskActivities } from './task-activities.ts';
import { createWindowActivities } from './window-activities.ts';

/**
 * Every activity of RunActivityWorkflow, TaskInstanceWorkflow and EventWindowWorkflow, bound to its dependencies.
 * Register the result on the worker.
 *
 * Each one fails through `toActivityFailure`: a failure that retrying cannot fix (a value
 * PostgreSQL refuses, invalid data, a result too large for Temporal) is non-retryable, so the
 * run fails at once with the reason; anything else goes to Temporal's retry policy.
 */
export function createActivities(deps: ActivityDeps): Activities {
  const activities: Activities = {
    ...createRunActivities(deps),
    ...createTaskActivities(deps),
    ...createWindowActivities(deps),
  };
  const maxResultBytes = deps.maxResultBytes ?? DEFAULT_MAX_ACTIVITY_RESULT_BYTES;
  const bounded = {} as Record<string, (input: never) => Promise<unknown>>;
  for (const [name, activity] of Object.entries(activities) as Array<[string, (input: never) => Promise<unknown>]>) {
    bounded[name] = async (input) => {
      try {
        const result = await activity(input);
        const bytes = result === undefined ? 0 : utf8Length(JSON.stringify(result));
        if (bytes > maxResultBytes) throw new PayloadTooLargeError(`the result of ${name}`, bytes, maxResultBytes);
        return result;
      } catch (error) {
        throw toActivityFailure(error);
      }
    };
  }
  return bounded as unknown as Activities;
}
