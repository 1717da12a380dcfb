export type { DesiredSchedule, ScheduleMemo, ScheduleSettings } from './desired-schedule.ts';
export {
  compareTzdata,
  compileWindowAt,
  DEFAULT_SCHEDULE_SETTINGS,
  definitionIdOf,
  desiredSchedule,
  PROCESS_TZDATA_VERSION,
  SCHEDULE_ID_PREFIX,
  scheduleIdFor,
} from './desired-schedule.ts';
export type { ScheduleState } from './operations.ts';
export { backfillSchedule, describeSchedule, triggerScheduleNow } from './operations.ts';
export type {
  ReconcileLoop,
  ReconcileLoopStatus,
  ReconcileOutcome,
  ReconcileReport,
  ScheduleDeps,
  ScheduleHealthOptions,
} from './reconcile.ts';
export {
  appliedMemo,
  checkScheduleHealth,
  reconcileAll,
  reconcileDefinition,
  reconcileFrom,
  startReconcileLoop,
} from './reconcile.ts';
export type { ScheduleSync, ScheduleSyncOptions } from './schedule-sync.ts';
export { startScheduleSync } from './schedule-sync.ts';
