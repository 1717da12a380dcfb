export type { DesiredSchedule, ScheduleSettings } from './desired-schedule.ts';
export {
  DEFAULT_SCHEDULE_SETTINGS,
  definitionIdOf,
  desiredSchedule,
  SCHEDULE_ID_PREFIX,
  scheduleIdFor,
} from './desired-schedule.ts';
export type { ScheduleState } from './operations.ts';
export { backfillSchedule, describeSchedule, triggerScheduleNow } from './operations.ts';
export type { ReconcileOutcome, ReconcileReport, ScheduleDeps } from './reconcile.ts';
export { reconcileAll, reconcileDefinition, reconcileFrom, startReconcileLoop } from './reconcile.ts';
export type { ScheduleSync, ScheduleSyncOptions } from './schedule-sync.ts';
export { startScheduleSync } from './schedule-sync.ts';
