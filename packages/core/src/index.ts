export type { BackoffBounds } from './backoff.ts';
export { jitteredBackoffMs } from './backoff.ts';
export { utf8Length } from './bytes.ts';
export type {
  CelEnvironment,
  CelError,
  CelPosition,
  CelVariableType,
  CompiledExpression,
  CompileOptions,
  CompileResult,
  EvaluateOptions,
  EvaluateResult,
} from './cel.ts';
export {
  celEnvironment,
  compileExpression,
  evaluate,
  eventFilterEnvironment,
  formatCelError,
  fromCelValue,
  ruleEnvironment,
  TEXT_TYPES,
  templateEnvironment,
  toCelValue,
  windowRuleEnvironment,
  windowTemplateEnvironment,
} from './cel.ts';
export type { ExpressionLimits, InputLimits } from './cel-limits.ts';
export {
  DEFAULT_EXPRESSION_COST,
  DEFAULT_EXPRESSION_LIMITS,
  DEFAULT_INPUT_LIMITS,
  DEFAULT_MAX_EXPRESSION_COST_CAP,
  expressionBudget,
} from './cel-limits.ts';
export { PATTERN_CACHE_ENTRIES } from './cel-regex.ts';
export type { CronField, CronParseError, DstPolicyInput, ParseCronResult, ParsedCron } from './cron.ts';
export {
  CronTriggerConfig,
  cronNeverFires,
  DstPolicy,
  isValidTimezone,
  MisfireConfig,
  MisfirePolicy,
  parseCron,
} from './cron.ts';
export type {
  CronSchedule,
  CronScheduleConfig,
  FoldPolicy,
  GapPolicy,
  Occurrence,
  OccurrenceKind,
  ResolvedDstPolicy,
} from './cron-engine.ts';
export { cronSchedule, nextOccurrences, occurrencesBetween, resolveDstPolicy } from './cron-engine.ts';
export type {
  ActivityDefinitionSpecInput,
  CompileDefinitionOptions,
  CompileDefinitionResult,
  CompiledDefinition,
  ValidateDefinitionOptions,
  ValidateDefinitionResult,
} from './definition.ts';
export {
  ActivityDefinitionSpec,
  ContextSource,
  compileDefinition,
  compileStoredDefinition,
  DefinitionKey,
  DefinitionLimits,
  definitionJsonSchema,
  Rule,
  TaskTemplate,
  Trigger,
  validateDefinitionSpec,
} from './definition.ts';
export {
  cloudEventStringProblem,
  DeliveryInfo,
  EventEnvelope,
  eventKey,
  Rfc3339,
  rfc3339Problem,
  StoredEventEnvelope,
} from './envelope.ts';
export type { FieldError, Result } from './errors.ts';
export { assertNever, CoreError, CoreErrorCode, formatPath } from './errors.ts';
export type {
  DefinitionMatcher,
  EventMatcher,
  FilterFailure,
  MatchableDefinition,
  MatchExplanation,
  MatchedDefinition,
  MatchOutcome,
} from './event-matcher.ts';
export { buildMatcher, createDefinitionMatcher } from './event-matcher.ts';
export { EventTriggerConfig, matchesSourcePattern, matchesTypePattern } from './event-trigger.ts';
export type {
  WindowCloseReason,
  WindowKeyResult,
  WindowMode,
  WindowProgress,
  WindowSettings,
  WindowSummary,
} from './event-window.ts';
export {
  closedByContent,
  closedByTime,
  compileWindowKey,
  EventWindow,
  emptyWindowVariables,
  evaluateWindowKey,
  joinedProgress,
  opensWindow,
  RunWindow,
  WINDOW_CLOSE_REASONS,
  WINDOW_LIMITS,
  WindowDuration,
  WindowKeyErrorCode,
  windowDeadline,
  windowDurationMs,
  windowKeyHash,
  windowOutcome,
  windowSettings,
  windowVariables,
} from './event-window.ts';
export type { JsonProblem, JsonProblemKind } from './input-limits.ts';
export {
  displayText,
  inspectJson,
  STORABLE_ONLY,
  setOwn,
  storableCopy,
  unstorableText,
} from './input-limits.ts';
export { JsonObject } from './json.ts';
export type { MisfireDecision, MisfireInput } from './misfire.ts';
export { decideMisfire, decideMisfireForSchedule } from './misfire.ts';
export type { NormalizeError, NormalizeOptions, NormalizeResult, RawMessage } from './normalize-message.ts';
export { NormalizeErrorCode, normalizeMessage } from './normalize-message.ts';
export type { Plan, PlanError, PlanInput, PlannedTask, PlanResult } from './plan-tasks.ts';
export { DEFAULT_MAX_OUTPUT_BYTES, PlanErrorCode, planTasks } from './plan-tasks.ts';
export type { RunVariablesInput } from './run-variables.ts';
export { runVariables } from './run-variables.ts';
export type {
  CompileConfig,
  CompileWindow,
  PreviewOccurrence,
  ScheduleRange,
  TemporalCalendarSpec,
  TemporalDayOfWeek,
  TemporalMonth,
  TemporalScheduleSpec,
} from './schedule.ts';
export {
  compileToScheduleSpec,
  isScheduledTime,
  previewOccurrences,
  previewSchedule,
  TEMPORAL_DAYS_OF_WEEK,
  TEMPORAL_MONTHS,
} from './schedule.ts';
export type { TaskEventOptions } from './task.ts';
export { TaskEventKind, TaskInstance, TaskStatus, taskEvent } from './task.ts';
export type { CompiledTemplate, CompileTemplateOptions, CompileTemplateResult } from './template.ts';
export { compileTemplate, renderTemplate } from './template.ts';
export type { ZoneTransition } from './time-zone.ts';
export { TimeZone } from './time-zone.ts';
export type { RunTriggerIdentity } from './workflow-ids.ts';
export {
  replayTriggerKey,
  runTriggerKey,
  runWorkflowId,
  runWorkflowIdFor,
  runWorkflowIdForCron,
  runWorkflowIdForEvent,
  runWorkflowIdForManual,
  runWorkflowIdForReplay,
  runWorkflowIdForWindow,
  scheduledRunTriggerKey,
  scheduledRunWorkflowIdBase,
  taskWorkflowId,
  windowTriggerKey,
  windowWorkflowId,
} from './workflow-ids.ts';
