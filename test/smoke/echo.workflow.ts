import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './echo.activities.ts';

const { shout } = proxyActivities<typeof activities>({ startToCloseTimeout: '10 seconds' });

/** The smallest workflow that proves the worker, the bundle and an activity round trip. */
export async function echo(message: string): Promise<string> {
  return await shout(message);
}
