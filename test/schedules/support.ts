import { DEFAULT_SCHEDULE_SETTINGS, type ScheduleDeps } from '@activity-core/schedules';
import { type Harness, useWorkerHarness } from '../worker/harness.ts';

/**
 * The worker harness (own database, topology, task queue, a real in-process worker) plus
 * schedule dependencies with a schedule-id prefix of this file's own, so reconcile passes of
 * other files never see its schedules.
 */
export function useScheduleHarness(): () => { h: Harness; deps: ScheduleDeps } {
  let current: { h: Harness; deps: ScheduleDeps } | undefined;
  useWorkerHarness((h) => {
    const settings = {
      ...DEFAULT_SCHEDULE_SETTINGS,
      taskQueue: h.taskQueue,
      scheduleIdPrefix: `${h.prefix.toLowerCase()}-def-`,
    };
    current = { h, deps: { client: h.client, db: h.db, settings } };
  });
  return () => {
    if (!current) throw new Error('useScheduleHarness: used outside a test');
    return current;
  };
}
