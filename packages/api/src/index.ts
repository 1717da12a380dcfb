export { authenticate, secretsEqual } from './auth.ts';
export type { BacktestResult, BacktestSample, ReplayResult } from './backtest.ts';
export type {
  ApiContext,
  ApiDeps,
  DefinitionChange,
  EventSettings,
  PublishedEvent,
  RedriveInput,
  RedriveResult,
} from './context.ts';
export { createContextFactory } from './context.ts';
export type { CreateApiDepsOptions } from './deps.ts';
export { createApiDeps, DEFAULT_EVENT_SETTINGS } from './deps.ts';
export type {
  ApiToken,
  Definition,
  DefinitionVersion,
  OutboxEntry,
  Page,
  Run,
  RunDetail,
  RunEvent,
  RunLogEntry,
  SchedulePreview,
  Task,
} from './dto.ts';
export type { ErrorData, FieldError, HttpErrorCode } from './errors.ts';
export { FieldValidationError, httpErrorBody, toTRPCError } from './errors.ts';
export type { EventEvaluation, TriggerCheck } from './evaluate.ts';
export type { ApiHandlerOptions, ClientErrorOptions } from './http.ts';
export { answerClientErrors, createApiHandler } from './http.ts';
export type { RateLimiter, TokenBucketOptions } from './rate-limit.ts';
export { createTokenBucketLimiter, unlimited } from './rate-limit.ts';
export type { AppRouter } from './router.ts';
export { appRouter } from './router.ts';
export type { DiffItem, DiffResult, DryRunResult } from './routers/definitions.ts';
export type { TriggerResult } from './routers/runs.ts';
export type { Principal, ProcedureMeta } from './scopes.ts';
export { Scope, scopeAllows } from './scopes.ts';
export type { FieldChange } from './spec-diff.ts';
export { createCallerFactory } from './trpc.ts';
