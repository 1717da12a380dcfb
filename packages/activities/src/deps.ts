import type { ExpressionLimits, JsonObject } from '@activity-core/core';
import type {
  Database,
  Executor,
  NewRunLogEntry,
  OutboxRecord,
  RunLogKind,
  RunRecord,
  RunTriggerKind,
  TaskStatus,
  TransitionRunInput,
} from '@activity-core/db';
import { appendRunLog, changeRunStatus, changeRunStatusWithLog } from '@activity-core/db';
import type { Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import type { Kysely } from 'kysely';
import type { ContextResolverRegistry } from './context-sources/custom.ts';
import type { HttpSourceSettings } from './context-sources/http.ts';

/** An outbox row as its transaction wrote it (the outbox relay's `CommittedOutboxRow`). */
export type CommittedOutboxRow = Pick<OutboxRecord, 'id' | 'subject' | 'headers' | 'body'>;

export interface ActivityDeps {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** Subjects of task events (`tasks.created.{key}` under the installation's prefix). */
  readonly topology: Topology;
  readonly http: HttpSourceSettings;
  readonly resolvers?: ContextResolverRegistry;
  readonly clock?: () => Date;
  /** CloudEvents `source` of the task events. Default `urn:activity-core`. */
  readonly eventSource?: string;
  /**
   * Called after a transaction wrote outbox rows, so an in-process relay can publish at once.
   * `committed`, when given, are those of the rows that are the first of their order key (a new
   * task's `tasks.created`): the relay may publish them as they are, without claiming them.
   */
  readonly onOutboxWritten?: (committed?: readonly CommittedOutboxRow[]) => void;
  /**
   * CEL budget and input limits of this installation (default: the core's defaults); the input
   * limits also bound context source values (nesting, elements, string bytes).
   */
  readonly expressionLimits?: ExpressionLimits;
  /**
   * Largest activity result, as JSON bytes, handed to Temporal; a larger one fails the activity
   * for good (PayloadTooLarge) instead of being refused by the server on every retry.
   * Default {@link DEFAULT_MAX_ACTIVITY_RESULT_BYTES}.
   */
  readonly maxResultBytes?: number;
  /** Told of every run and task state change this process wrote (the worker's /metrics). */
  readonly metrics?: ActivityMetrics;
}

/**
 * The run and task state changes the activities made, for counters and histograms. Each is
 * called once per change actually written (a row inserted, a status updated) and only after
 * it committed, never per activity attempt: a retried or replayed activity that finds the row
 * or the status already there reports nothing.
 */
export interface ActivityMetrics {
  /** A run row was inserted. */
  runStarted(triggerKind: RunTriggerKind): void;
  /** A run's finished status (succeeded, failed, skipped, coalesced, expired, cancelled) was written. */
  runFinished(run: RunRecord): void;
  /** Task rows were inserted. */
  tasksCreated(count: number): void;
  /** An open task was closed with this outcome. */
  taskClosed(outcome: Exclude<TaskStatus, 'open'>): void;
  /**
   * Events an allOf window ignored: no window was open under their key and their type opens
   * none. Nothing is written for them, so this is counted per join after it committed: a join
   * retried after its commit (its result lost), or a redelivered or redriven event ignored
   * again, counts them again.
   */
  windowEventsIgnored(count: number): void;
}

/**
 * Moves a run to a status and, when this call wrote a finished status, tells `deps.metrics`.
 * Outside a transaction only: inside one, use `changeRunStatus` and {@link reportRunChange}
 * after the commit.
 */
export async function finishRunStatus(
  deps: Pick<ActivityDeps, 'db' | 'metrics'>,
  input: TransitionRunInput,
): Promise<RunRecord> {
  const change = await changeRunStatus(deps.db, input);
  reportRunChange(deps, change);
  return change.run;
}

/** Tells `deps.metrics` of a run status this process wrote, if it is a finished one. */
export function reportRunChange(
  deps: Pick<ActivityDeps, 'metrics'>,
  change: { readonly run: RunRecord; readonly changed: boolean } | undefined,
): void {
  if (change?.changed && change.run.finishedAt !== null) deps.metrics?.runFinished(change.run);
}

/**
 * Temporal refuses payloads over 2 MiB by default (the server's BlobSizeLimitError); a result
 * is kept under that with room for the payload's own metadata.
 */
export const DEFAULT_MAX_ACTIVITY_RESULT_BYTES = 2 * 1024 * 1024 - 64 * 1024;

/** Appends a run-log entry once per idempotency key (a retried activity writes nothing twice). */
export function runLogWriter(deps: Pick<ActivityDeps, 'db'>) {
  return (runId: string, kind: RunLogKind, data: JsonObject, idempotencyKey: string) =>
    appendRunLog(deps.db, { runId, kind, data, idempotencyKey });
}

/** The run's `run_finished` entry, as `finishRun` and the last `writeTasks` of a run write it. */
export function runFinishedEntry(status: FinishedStatus, summary: JsonObject | undefined): NewRunLogEntry {
  return { kind: 'run_finished', data: { status, ...(summary ?? {}) }, idempotencyKey: 'run_finished' };
}

/** How a run that spawned its plan ends: `expired` is an expired allOf window's run. */
type FinishedStatus = 'succeeded' | 'expired';

/**
 * Finishes the run that spawned its plan, in one transaction: its `run_finished` entry after
 * `entries` (in that order) and its status (`succeeded`, or `expired` for an
 * expired window's run) with the summary. Returns the status change for
 * {@link reportRunChange}, to be reported once `db`'s transaction committed.
 */
export async function succeedRun(
  db: Executor,
  runId: string,
  summary: JsonObject | undefined,
  entries: readonly NewRunLogEntry[] = [],
  status: FinishedStatus = 'succeeded',
): Promise<{ run: RunRecord; changed: boolean }> {
  return changeRunStatusWithLog(db, { id: runId, to: status, summary: summary ?? null }, [
    ...entries,
    runFinishedEntry(status, summary),
  ]);
}
