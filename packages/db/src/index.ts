export type { CreateDbOptions, DbConfigInput } from './config.ts';
export { createDb, DbConfig, typeParsers } from './config.ts';
export type {
  CreateDefinitionInput,
  DefinitionFeed,
  DefinitionHead,
  DefinitionRecord,
  DefinitionTriggerRow,
  DefinitionVersionRecord,
  ListDefinitionsFilter,
  UpdateDefinitionInput,
} from './definition.repository.ts';
export {
  archiveDefinition,
  createDefinition,
  getDefinition,
  getDefinitionByKey,
  getDefinitionHead,
  getDefinitionVersion,
  listActiveDefinitions,
  listDefinitions,
  listDefinitionVersions,
  readActiveEventDefinitions,
  readDefinitionChanges,
  setDefinitionEnabled,
  updateDefinition,
} from './definition.repository.ts';
export type {
  ConflictData,
  ConflictReason,
  CorruptRowData,
  InvalidCursorData,
  InvalidTransitionData,
  MigrationErrorData,
  NotFoundData,
} from './errors.ts';
export {
  ConflictError,
  CorruptRowError,
  DbError,
  DbErrorCode,
  InvalidCursorError,
  InvalidTransitionError,
  MigrationError,
  NotFoundError,
  PG_UNIQUE_VIOLATION,
  pgErrorCode,
} from './errors.ts';
export type { DefinitionListener, ListenDefinitionChangesOptions } from './listen.ts';
export { DEFINITIONS_CHANNEL, listenForDefinitionChanges } from './listen.ts';
export type { MigrationState, MigrationStep } from './migrator.ts';
export { migrateDown, migrateToLatest, migrationStatus } from './migrator.ts';
export type {
  ClaimOutboxOptions,
  ListOutboxRequest,
  NewOutboxMessage,
  OutboxEntry,
  OutboxFailure,
  OutboxListState,
  OutboxRecord,
  OutboxStats,
} from './outbox.repository.ts';
export {
  claimOutboxBatch,
  enqueueOutbox,
  listOutbox,
  markOutboxPublished,
  outboxStats,
  prepareOutboxClaim,
  pruneOutbox,
  recordOutboxFailure,
  retryOutboxRowNow,
  skipOutboxRow,
} from './outbox.repository.ts';
export type { Page, PageRequest } from './pagination.ts';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination.ts';
export type { InsertRunInput, ListRunsFilter, RunRecord, TransitionRunInput } from './run.repository.ts';
export {
  changeRunStatus,
  changeRunStatusWithLog,
  FINISHED_RUN_STATUSES,
  getRun,
  getRunByWorkflowId,
  insertRunOfDefinition,
  insertRunOrGet,
  isFinishedRunStatus,
  lastSuccessfulRun,
  listRuns,
  RUN_TRANSITIONS_TO,
  transitionRun,
  updateWaitingWindow,
} from './run.repository.ts';
export type { NewRunEvent, RunEventRecord } from './run-event.repository.ts';
export { claimRunEvents, findRunEventOwners, listRunEvents } from './run-event.repository.ts';
export type {
  AppendRunLogInput,
  FollowRunLogOptions,
  FollowRunLogPage,
  ListDefinitionRunLogFilter,
  NewRunLogEntry,
  ReadRunLogOptions,
  RunLogEntryRecord,
} from './run-log.repository.ts';
export {
  appendRunLog,
  appendRunLogEntries,
  FOLLOW_MAX_TRANSACTION_MS,
  followRunLog,
  listDefinitionRunLog,
  readRunLog,
} from './run-log.repository.ts';
export type {
  ApiTokensTable,
  Database,
  DefinitionRevisionTable,
  DefinitionsTable,
  DefinitionVersionsTable,
  OutboxTable,
  RunEventsTable,
  RunLogEntriesTable,
  RunLogKind,
  RunStatus,
  RunsTable,
  RunTriggerKind,
  TaskInstancesTable,
  TaskStatus,
} from './schema.ts';
export { RUN_LOG_KINDS, RUN_STATUSES, RUN_TRIGGER_KINDS, TASK_STATUSES } from './schema.ts';
export type {
  ListTasksFilter,
  NewTask,
  RunTasksInput,
  TaskClosingStatus,
  TaskOutboxBuilder,
  TaskRecord,
  TransitionTaskInput,
} from './task.repository.ts';
export {
  getTask,
  getTaskByIdempotencyKey,
  insertRunTasks,
  insertTaskIfAbsent,
  insertTasksIfAbsent,
  listExpiredOpenTasks,
  listTasks,
  openTasksByDedupeKey,
  toTaskInstance,
  transitionTask,
} from './task.repository.ts';
export type { ApiTokenRecord, CreateApiTokenInput } from './token.repository.ts';
export { createApiToken, listApiTokens, revokeApiToken, verifyApiToken } from './token.repository.ts';
export type { Db, Executor } from './transaction.ts';
export { inTransaction } from './transaction.ts';
export { isUuid, newId } from './uuid.ts';
export { JsonValue, OutboxHeaders } from './values.ts';
