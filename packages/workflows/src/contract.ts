// The contract between the processes that start and drive workflows (ingest, API, the
// schedule reconciler) and the worker that runs them. Pure types and names: safe to import
// from workflow code and from clients alike.
import type { EventEnvelope, WindowSummary } from '@activity-core/core';

/** Workflow type names as registered on the worker. Changing one breaks running workflows. */
export const WorkflowTypes = {
  runActivity: 'RunActivityWorkflow',
  taskInstance: 'TaskInstanceWorkflow',
  eventWindow: 'EventWindowWorkflow',
} as const;

/** What caused a run. The run's workflow id and trigger key derive from it. */
export type RunTrigger =
  | {
      readonly kind: 'event';
      readonly envelope: EventEnvelope;
      /** Set when a stored event is replayed (`definitions.replay`): the replay's scope in the run's id. */
      readonly replayKey?: string;
    }
  | {
      readonly kind: 'cron';
      /** The occurrence's nominal fire time (ISO 8601, UTC), from TemporalScheduledStartTime. */
      readonly nominalTime: string;
      readonly scheduleId: string;
    }
  | {
      readonly kind: 'manual';
      readonly requestedBy: string;
      readonly idempotencyKey: string;
      readonly payload?: unknown;
    }
  | {
      /** A closed event window (EventWindowWorkflow hands it over). */
      readonly kind: 'window';
      readonly window: WindowSummary;
      /** The events the window kept, in arrival order (the first `window.stored` of `window.count`). */
      readonly events: readonly EventEnvelope[];
    };

/**
 * What a Temporal Schedule's action passes for a cron definition. The occurrence's nominal
 * time is not known when the action is written; the workflow reads it from the
 * `TemporalScheduledStartTime` search attribute Temporal sets on every scheduled start, and
 * then runs with a full {@link RunActivityInput}.
 */
export interface ScheduledRunInput {
  readonly definitionId: string;
  readonly trigger: { readonly kind: 'cron'; readonly scheduleId: string };
}

export interface RunActivityInput {
  readonly definitionId: string;
  /** The definition version to run; the current one when absent (pinned at the run's start). */
  readonly version?: number;
  readonly trigger: RunTrigger;
}

/** Who acts on a task and why, for the complete and cancel operations. */
export interface TaskActionInput {
  readonly by: string;
  readonly reason?: string;
  /** For `complete`: an optional result stored with the task. */
  readonly result?: unknown;
}

/** The causation a task event carries: depth is the triggering event's depth plus one. */
export interface TaskCausation {
  readonly depth: number;
  /** Id of the event that triggered the run (event triggers only). */
  readonly causationId?: string;
  readonly correlationId?: string;
  readonly traceparent?: string;
}

/**
 * One concrete task decided by the run's plan. Rendered in an activity, so the plan is part of
 * the run's history and survives template library upgrades.
 */
export interface PlannedTask {
  readonly templateKey: string;
  /** Position among the tasks of the same template in this run (0-based, deterministic). */
  readonly index: number;
  readonly title: string;
  readonly description: string | null;
  readonly assignee: string | null;
  readonly priority: string | null;
  /** Plain labels (`urgent`) or `name=value` pairs, as rendered by the template. */
  readonly labels: readonly string[];
  readonly payload: unknown;
  readonly dedupeKey: string | null;
  /** ISO 8601 UTC. */
  readonly dueAt: string | null;
  /** ISO 8601 UTC: when the task expires if still open (due time plus grace). */
  readonly expiresAt: string | null;
}

/** Input of one TaskInstanceWorkflow (workflow id `task:{runWorkflowId}:{templateKey}:{index}`). */
export interface TaskInstanceInput {
  /** `task:{runWorkflowId}:{templateKey}:{index}`; also the TaskInstance idempotency key. */
  readonly workflowId: string;
  readonly runId: string;
  readonly runWorkflowId: string;
  readonly definitionId: string;
  readonly definitionKey: string;
  readonly definitionVersion: number;
  /**
   * The task row's id when the run writes the row (`writeTasks`, once this workflow has
   * started): the workflow then only holds the lifecycle. Absent for tasks of runs recorded
   * before that, whose task workflow writes its own row first (`createTask`).
   */
  readonly taskId?: string;
  readonly task: PlannedTask;
  readonly causation: TaskCausation;
}

export type TaskLifecycleStatus = 'creating' | 'open' | 'completed' | 'cancelled' | 'expired';

/** What the `status` query of a TaskInstanceWorkflow answers, and what complete/cancel return. */
export interface TaskStatusView {
  readonly workflowId: string;
  /** The TaskInstance row id, once the row is written. */
  readonly taskId: string | null;
  readonly status: TaskLifecycleStatus;
  readonly by: string | null;
  readonly reason: string | null;
}

/** How a run ended; also the result of RunActivityWorkflow. */
export interface RunActivityResult {
  readonly runId: string;
  readonly runWorkflowId: string;
  /** `expired`: the run of an allOf window that expired (it spawned its `onExpired` tasks). */
  readonly status: 'succeeded' | 'failed' | 'skipped' | 'coalesced' | 'expired';
  readonly tasksPlanned: number;
  /** Children started by this run (those found already started count too). */
  readonly tasksStarted: number;
}
