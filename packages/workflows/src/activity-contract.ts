// The activities' side of the contract: what RunActivityWorkflow and TaskInstanceWorkflow ask
// of their activities, and what they get back. Types only: workflow code proxies `Activities`
// by type, and `@activity-core/activities` implements it.
import type {
  ActivityDefinitionSpec,
  EventEnvelope,
  JsonObject,
  MisfireDecision,
  WindowCloseReason,
  WindowSummary,
} from '@activity-core/core';
import type {
  PlannedTask,
  RunActivityResult,
  RunTrigger,
  TaskActionInput,
  TaskCausation,
  TaskInstanceInput,
  TaskLifecycleStatus,
} from './contract.ts';
import type { OpenWindowRef } from './window-contract.ts';

export interface RecordRunInput {
  readonly runWorkflowId: string;
  /** Unique per definition: the key the run's workflow id was formed from (see `runTriggerKey`). */
  readonly triggerKey: string;
  readonly definitionId: string;
  readonly version?: number;
  readonly trigger: RunTrigger;
  /**
   * When Temporal started the run workflow. For a cron run, minus the nominal time, it is the
   * delay the Schedule added (its jitter, plus the scheduler's own lateness of a few ms),
   * recorded on the run as `jitterMs`.
   */
  readonly startedAt?: string;
}

export type RecordRunResult =
  | {
      readonly ok: true;
      readonly runId: string;
      readonly version: number;
      readonly definitionKey: string;
      readonly spec: ActivityDefinitionSpec;
      /** Set when the run was already finished (a repeated start): return it unchanged. */
      readonly finished: RunActivityResult['status'] | null;
    }
  | { readonly ok: false; readonly runId: string; readonly version: number; readonly error: string };

/**
 * Input of {@link RunActivities.beginRun}: the run as {@link RecordRunInput} records it, and the
 * times the workflow read at its first workflow task.
 */
export interface BeginRunInput extends RecordRunInput {
  /** The run's first workflow task: a cron run's lateness is measured to it (misfire). */
  readonly actualTime: string;
  /** The run's `now` for context sources and templates (the first workflow task's time). */
  readonly now: string;
  /** How the run ends when it plans no task: `expired` for an expired allOf window's run. */
  readonly emptyStatus: 'succeeded' | 'expired';
}

/**
 * What {@link RunActivities.beginRun} did. `planned`: the run is `running`, its context and
 * rules logged, its tasks to start. `resolveRemotely`: the run is recorded (and its misfire
 * decided) but its context calls other systems, which the workflow resolves in a regular
 * activity before `planRun`. `finished`: nothing left to do (a repeated start of a finished
 * run, a skipped or coalesced cron occurrence, a plan of no tasks, finished in the same step).
 * `invalid` and `failed`: the run is recorded and must fail with this reason (the workflow's
 * one failRun path writes it).
 */
export type BeginRunResult =
  | {
      readonly outcome: 'planned';
      readonly runId: string;
      readonly version: number;
      readonly definitionKey: string;
      readonly children: PlannedChild[];
    }
  | {
      readonly outcome: 'resolveRemotely';
      readonly runId: string;
      readonly version: number;
      readonly definitionKey: string;
      readonly spec: ActivityDefinitionSpec;
    }
  | { readonly outcome: 'finished'; readonly runId: string; readonly status: RunActivityResult['status'] }
  | { readonly outcome: 'invalid'; readonly runId: string; readonly error: string }
  | {
      readonly outcome: 'failed';
      readonly runId: string;
      readonly error: { readonly type: string; readonly message: string };
    };

export interface MisfireInput {
  readonly runId: string;
  readonly cron: unknown;
  readonly nominalTime: string;
  /** When the run workflow began (workflow start time): lateness is measured to it. */
  readonly actualTime: string;
}

export interface RunContextInput {
  readonly runId: string;
  readonly definitionId: string;
  readonly definitionKey: string;
  readonly version: number;
  readonly spec: ActivityDefinitionSpec;
  readonly trigger: RunTrigger;
  readonly now: string;
}

export interface PlanRunInput extends RunContextInput {
  readonly runWorkflowId: string;
  readonly context: Record<string, unknown>;
}

export interface PlannedChild {
  readonly workflowId: string;
  /**
   * The id of the task's row, chosen by `planRun`. Runs that write their tasks' rows themselves
   * (`writeTasks`, after the tasks' workflows started) pass it to the child; runs recorded before
   * that (no `run-writes-tasks` marker) ignore it, and their children write their own rows.
   */
  readonly taskId?: string;
  readonly task: PlannedTask;
}

export interface PlanRunResult {
  readonly rules: ReadonlyArray<{ readonly name: string; readonly result: boolean }>;
  readonly children: PlannedChild[];
}

/** Input of {@link TaskActivities.writeTasks}: one batch of a run's tasks, whose workflows have started. */
export interface WriteTasksInput {
  readonly runId: string;
  readonly runWorkflowId: string;
  readonly definitionId: string;
  readonly definitionKey: string;
  readonly definitionVersion: number;
  readonly causation: TaskCausation;
  /** Children of the run's plan, each with its `taskId`. */
  readonly tasks: readonly PlannedChild[];
  /**
   * On the run's last batch: the run finishes in the same transaction, with this status
   * (`expired`: an expired allOf window's `onExpired` tasks) and summary.
   */
  readonly finish?: {
    readonly status: 'succeeded' | 'expired';
    readonly tasksPlanned: number;
    readonly tasksStarted: number;
  };
}

export interface FinishRunInput {
  readonly runId: string;
  /** `expired`: the run of an expired allOf window, after its `onExpired` tasks. */
  readonly status: 'succeeded' | 'failed' | 'expired';
  readonly summary?: JsonObject;
  readonly error?: { readonly type: string; readonly message: string };
}

export interface RecordFailedRunInput {
  readonly runWorkflowId: string;
  readonly triggerKey: string;
  readonly definitionId: string;
  readonly version?: number;
  /** As the run got it; stored as a copy PostgreSQL can hold (see core `storableCopy`). */
  readonly trigger: RunTrigger;
  readonly error: { readonly type: string; readonly message: string };
}

export interface CreateTaskResult {
  readonly taskId: string;
  readonly status: TaskLifecycleStatus;
  readonly by: string | null;
  readonly reason: string | null;
  readonly created: boolean;
}

export interface CloseTaskInput {
  readonly task: TaskInstanceInput;
  readonly taskId: string;
  readonly to: 'completed' | 'cancelled' | 'expired';
  readonly action?: TaskActionInput;
}

/** The run-side activities: everything RunActivityWorkflow does outside its sandbox. */
export interface RunActivities {
  /**
   * Records the run (idempotent by trigger key) and loads the pinned definition version:
   * the version in the run row wins, so a retried or repeated start never switches version.
   */
  recordRun(input: RecordRunInput): Promise<RecordRunResult>;
  /**
   * The whole start of a run in one step: records it (idempotent by trigger key), loads its
   * pinned version (parsed and validated once per version, then cached), decides a cron
   * misfire, resolves in-process context sources and plans the tasks, writing the run's
   * `running` status and its log entries in one transaction; a plan of no tasks finishes the
   * run in that transaction too. Permanent errors after the run is recorded come back as
   * `failed`, not thrown, so the workflow fails the run through its one path.
   */
  beginRun(input: BeginRunInput): Promise<BeginRunResult>;
  /** Applies the cron misfire policy; a skipped or coalesced occurrence is recorded and finished here. */
  checkMisfire(input: MisfireInput): Promise<MisfireDecision>;
  /** Resolves the context sources in order and snapshots them (secrets scrubbed) in the run log. */
  resolveContext(input: RunContextInput): Promise<Record<string, unknown>>;
  /** Evaluates rules and renders templates (core planTasks); the result lands in workflow history. */
  planRun(input: PlanRunInput): Promise<PlanRunResult>;
  /** Finishes the run (succeeded or failed) with its summary, and logs it. */
  finishRun(input: FinishRunInput): Promise<void>;
  /**
   * Records a run that failed before `recordRun` could record it (its trigger cannot be
   * stored as given, say): the run row with a storable copy of the trigger, status `failed`
   * and the reason in the run log. Resolves with the run id, or null when the definition does
   * not exist (there is nothing to record the run against).
   */
  recordFailedRun(input: RecordFailedRunInput): Promise<{ readonly runId: string | null }>;
}

export interface JoinWindowCandidate {
  readonly eventKey: string;
  readonly envelope: EventEnvelope;
  /** The definition version ingest matched. */
  readonly version: number;
  /** When the event arrived (epoch ms, see `WindowArrival`). */
  readonly arrivedAt: number;
}

export interface JoinWindowInput {
  readonly definitionId: string;
  readonly key: string;
  readonly keyHash: string;
  /** The key's open window, or null: the first candidate that joined no window yet opens one. */
  readonly open: OpenWindowRef | null;
  /** Events in arrival order, none later than the open window's deadline. */
  readonly candidates: readonly JoinWindowCandidate[];
}

/** What happened to one candidate: joined and kept, joined and only counted (bounds), or a duplicate. */
/**
 * What became of a candidate: joined and kept for the run (`kept`), joined and counted only
 * (`counted`: past the window's bounds), already claimed (`duplicate`), or `ignored`: no window
 * was open and its type does not open one (an allOf window opens only on one of its types).
 */
export type JoinVerdict = 'kept' | 'counted' | 'duplicate' | 'ignored';

export interface JoinWindowResult {
  /** The window after the call: the one given, the one opened, or null (every candidate was a duplicate or ignored). */
  readonly open: OpenWindowRef | null;
  /** Candidates handled, from the first; the rest wait for the next window (this one is `full`). */
  readonly consumed: number;
  /** One per handled candidate. */
  readonly verdicts: readonly JoinVerdict[];
  /** Set when the window's content closes it (`maxEvents`, `complete`): close it now. */
  readonly full: WindowCloseReason | null;
}

export interface CloseWindowActivityInput {
  readonly runId: string;
  readonly definitionId: string;
  readonly version: number;
  readonly summary: WindowSummary;
  /** The operator, for `closed` and `discarded`. */
  readonly by?: { readonly by: string; readonly reason?: string };
}

export interface CloseWindowActivityResult {
  /** The run's status now: `pending` (its run starts), `expired` or `cancelled`. */
  readonly status: 'pending' | 'expired' | 'cancelled';
  /** Whether RunActivityWorkflow runs for this window (false: nothing to spawn). */
  readonly startRun: boolean;
}

/** The window-side activities: EventWindowWorkflow's reads and writes. */
export interface WindowActivities {
  /**
   * Joins candidates to the key's window (opening one, with its `waiting` run, when none is
   * open): claims each event for the run (an event joins at most one window of a definition),
   * keeps it within the bounds, logs `event_joined`. Idempotent: a retry after a commit
   * returns the same result.
   */
  joinWindow(input: JoinWindowInput): Promise<JoinWindowResult>;
  /** Closes the window's run (`pending`, `expired` or `cancelled`) and logs `window_closed` with the reason. */
  closeWindow(input: CloseWindowActivityInput): Promise<CloseWindowActivityResult>;
}

/** The task-side activities: the TaskInstance rows, their events and their run-log entries. */
export interface TaskActivities {
  /**
   * Writes one batch of a run's tasks, whose workflows have started, in one transaction: the
   * TaskInstance rows, their `tasks.created.{key}` outbox rows and their `task_created` entries,
   * and on the last batch the run's `run_finished` entry and its `succeeded` status. Idempotent
   * by the tasks' keys (a retry, or a replay that runs it again, writes nothing twice).
   */
  writeTasks(input: WriteTasksInput): Promise<void>;
  /**
   * Inserts the TaskInstance and its `tasks.created.{key}` outbox row in one transaction, then
   * logs it: how a task workflow of a run recorded before `writeTasks` existed writes its own row.
   */
  createTask(input: TaskInstanceInput): Promise<CreateTaskResult>;
  /** Closes the task (completed / cancelled / expired): row, outbox event and log entry, each once. */
  closeTask(input: CloseTaskInput): Promise<CreateTaskResult>;
}

/** Every activity the workflows call; registered on the worker by `createActivities`. */
export type Activities = RunActivities & TaskActivities & WindowActivities;
