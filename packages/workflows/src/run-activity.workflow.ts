import type { ActivityDefinitionSpec } from '@activity-core/core';
// Not the package root: its modules (zod, CEL, re2, luxon) would be evaluated for every execution.
import { runTriggerKey, scheduledRunTriggerKey } from '@activity-core/core/workflow-ids';
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  WorkflowExecutionAlreadyStartedError,
} from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  Activities,
  BeginRunResult,
  PlannedChild,
  RecordFailedRunInput,
  RecordRunResult,
  WriteTasksInput,
} from './activity-contract.ts';
import { causationOf } from './causation.ts';
import type { RunActivityInput, RunActivityResult, ScheduledRunInput, TaskCausation } from './contract.ts';
import { FailureTypes } from './failure-types.ts';
import { TaskInstanceWorkflow } from './task-instance.workflow.ts';
import { type RunProgress, runStatusQuery } from './updates-and-queries.ts';

const retryForever = { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '20 seconds' } as const;
// Database-only steps run as local activities: no task-queue round trip per step (a run is
// several times faster), results still recorded in history as markers, and transient
// failures (database down) retry until it is back.
const db = proxyLocalActivities<Activities>({ startToCloseTimeout: '15 seconds', retry: retryForever });

/** Retries a `custom` source gets (it declares none): the default of an http source's `retries`. */
const CUSTOM_SOURCE_RETRIES = 2;

/**
 * Sources that call other systems (http, custom) resolve in a regular activity: they may take
 * long. Temporal's retry policy is the only retry around them (the http client makes one
 * request per attempt): as many attempts as the most demanding source asks for (`retries` + 1;
 * three for a custom source), then the run fails with the reason in its log instead of hanging
 * forever. What retrying cannot fix (a 4xx, a host not allowed) is non-retryable and fails at
 * once. The timeout leaves every http source its whole `timeoutMs`, one after the other.
 */
function remoteContextActivities(spec: ActivityDefinitionSpec): Activities {
  let retries = 0;
  let httpMs = 0;
  for (const source of spec.contextSources) {
    if (source.kind === 'http') {
      retries = Math.max(retries, source.retries);
      httpMs += source.timeoutMs;
    } else if (source.kind === 'custom') {
      retries = Math.max(retries, CUSTOM_SOURCE_RETRIES);
    }
  }
  return proxyActivities<Activities>({
    startToCloseTimeout: Math.max(120_000, httpMs + 30_000),
    retry: { ...retryForever, maximumAttempts: retries + 1 },
  });
}

/** Children started concurrently per batch; bounds pending commands and each workflow task's size. */
const CHILD_BATCH = 50;

/** State carried across continue-as-new while a large plan is being spawned. */
export interface RunSpawnState {
  readonly runId: string;
  readonly definitionKey: string;
  readonly version: number;
  readonly tasksPlanned: number;
  readonly remaining: readonly PlannedChild[];
  readonly started: number;
  /**
   * Children one run of the chain starts before it continues as new (besides Temporal's own
   * `continueAsNewSuggested`). Default {@link CHILDREN_PER_RUN}.
   */
  readonly childrenPerRun?: number;
  /**
   * The chain writes its tasks' rows itself (see {@link RUN_WRITES_TASKS}). Absent in chains
   * continued by runs recorded before that: their children write their own rows.
   */
  readonly writesTasks?: boolean;
}

/**
 * Runs that carry this marker write their tasks' rows, `tasks.created` outbox rows and
 * `task_created` entries themselves, one transaction per batch once the batch's workflows have
 * started, and succeed in the last batch's transaction: a `succeeded` run has every task in
 * `tasks.list`, every event in the outbox and every `task_created` before its `run_finished`.
 * Runs recorded without it (their histories) keep the first shape: each child writes its own
 * row, and the run finishes once the children have started.
 */
export const RUN_WRITES_TASKS = 'run-writes-tasks';

/**
 * Runs that carry this marker begin in one local activity, `beginRun`: record the run, load the
 * pinned version, decide a cron misfire, resolve in-process context sources and plan, one
 * workflow-task round trip instead of four (a run whose context calls out still resolves it in
 * a regular activity, then plans). Runs recorded without it replay the four separate steps.
 */
export const RUN_BEGINS_IN_ONE_STEP = 'run-begins-in-one-step';

/**
 * Each child start adds about two events plus its input to the history; 1000 keep a run well
 * under Temporal's warning marks (10,240 events / 10 MB) even with large task payloads.
 */
const CHILDREN_PER_RUN = 1000;

/**
 * One run of a definition for one trigger: record the run → load the pinned version → (cron)
 * misfire decision → resolve context → plan tasks (one local activity, `beginRun`, see
 * {@link RUN_BEGINS_IN_ONE_STEP}) → per batch, start one TaskInstanceWorkflow
 * per task (waiting for each start, not its end: tasks outlive the run), then write the batch's
 * task rows, outbox events and log entries in one transaction; the last batch's transaction
 * also succeeds the run (see {@link RUN_WRITES_TASKS}). Permanent errors fail the run with a
 * log entry and fail the workflow without retries.
 */
export async function RunActivityWorkflow(
  scheduledOrInput: RunActivityInput | ScheduledRunInput,
  resume?: RunSpawnState,
): Promise<RunActivityResult> {
  // When this workflow task started: how late the run really is, even if Temporal started the
  // workflow on time while no worker was there to run it.
  const firstTaskTime = new Date(Date.now());
  const { input, triggerKey } = resolveScheduledInput(scheduledOrInput);
  const runWorkflowId = workflowInfo().workflowId;
  const writesTasks = resume ? resume.writesTasks === true : patched(RUN_WRITES_TASKS);
  let progress: RunProgress = {
    step: resume ? 'spawning' : 'recording',
    runId: resume?.runId ?? null,
    tasksPlanned: resume?.tasksPlanned ?? null,
    tasksStarted: resume?.started ?? 0,
    result: null,
  };
  setHandler(runStatusQuery, () => progress);
  const result = (status: RunActivityResult['status'], runId: string, planned: number, started: number) => {
    const r: RunActivityResult = { runId, runWorkflowId, status, tasksPlanned: planned, tasksStarted: started };
    progress = { ...progress, step: 'done', result: r };
    return r;
  };

  let state: RunSpawnState;
  if (resume) {
    state = resume;
  } else {
    const record: UnrecordedRun = {
      runWorkflowId,
      triggerKey,
      definitionId: input.definitionId,
      ...(input.version !== undefined ? { version: input.version } : {}),
      trigger: input.trigger,
    };
    const startedAt = workflowInfo().startTime.toISOString();
    if (writesTasks && patched(RUN_BEGINS_IN_ONE_STEP)) {
      let begun: BeginRunResult;
      try {
        begun = await db.beginRun({
          ...record,
          startedAt,
          actualTime: firstTaskTime.toISOString(),
          now: firstTaskTime.toISOString(),
          emptyStatus: finalStatus(input),
        });
      } catch (error) {
        // Permanent errors before the run was recorded (after it, beginRun returns them).
        throw await failRun({ unrecorded: record }, error);
      }
      progress = { ...progress, runId: begun.runId };
      switch (begun.outcome) {
        case 'finished':
          return result(begun.status, begun.runId, 0, 0);
        case 'invalid':
          throw await failRun(
            { runId: begun.runId },
            ApplicationFailure.create({
              type: FailureTypes.invalidDefinition,
              message: begun.error,
              nonRetryable: true,
            }),
          );
        case 'failed':
          throw await failRun(
            { runId: begun.runId },
            ApplicationFailure.create({ type: begun.error.type, message: begun.error.message, nonRetryable: true }),
          );
        case 'resolveRemotely': {
          const { runId, spec, version, definitionKey } = begun;
          try {
            const now = new Date(Date.now()).toISOString();
            const base = {
              runId,
              definitionId: input.definitionId,
              definitionKey,
              version,
              spec,
              trigger: input.trigger,
              now,
            };
            progress = { ...progress, step: 'context' };
            const resolved = await remoteContextActivities(spec).resolveContext(base);
            progress = { ...progress, step: 'planning' };
            const plan = await db.planRun({ ...base, runWorkflowId, context: resolved });
            state = spawnState(runId, definitionKey, version, plan.children);
          } catch (error) {
            throw await failRun({ runId }, error);
          }
          break;
        }
        case 'planned':
          state = spawnState(begun.runId, begun.definitionKey, begun.version, begun.children);
          break;
        default: {
          // Workflow code cannot import core's assertNever (see the import above): the same check.
          const unexpected: never = begun;
          throw ApplicationFailure.nonRetryable(`unexpected beginRun result ${JSON.stringify(unexpected)}`);
        }
      }
      progress = { ...progress, tasksPlanned: state.tasksPlanned };
    } else {
      let recorded: RecordRunResult;
      try {
        recorded = await db.recordRun({ ...record, startedAt });
      } catch (error) {
        // Retryable failures are retried inside the local activity; what arrives here is
        // permanent (the trigger cannot be stored, the definition is gone …).
        throw await failRun({ unrecorded: record }, error);
      }
      progress = { ...progress, step: 'loading', runId: recorded.runId };
      if (!recorded.ok) {
        throw await failRun(
          { runId: recorded.runId },
          ApplicationFailure.create({
            type: FailureTypes.invalidDefinition,
            message: recorded.error,
            nonRetryable: true,
          }),
        );
      }
      const { runId, spec, version, definitionKey } = recorded;
      if (recorded.finished) return result(recorded.finished, runId, 0, 0);
      try {
        const trigger = input.trigger;
        if (trigger.kind === 'cron' && spec.trigger.kind === 'cron') {
          progress = { ...progress, step: 'misfire' };
          const decision = await db.checkMisfire({
            runId,
            cron: spec.trigger.cron,
            nominalTime: trigger.nominalTime,
            actualTime: firstTaskTime.toISOString(),
          });
          if (decision.action === 'skip') return result('skipped', runId, 0, 0);
          if (decision.action === 'coalesce') return result('coalesced', runId, 0, 0);
        }
        const now = new Date(Date.now()).toISOString();
        const base = { runId, definitionId: input.definitionId, definitionKey, version, spec, trigger, now };
        progress = { ...progress, step: 'context' };
        const callsOut = spec.contextSources.some((source) => source.kind === 'http' || source.kind === 'custom');
        const resolved = await (callsOut ? remoteContextActivities(spec) : db).resolveContext(base);
        progress = { ...progress, step: 'planning' };
        const plan = await db.planRun({ ...base, runWorkflowId, context: resolved });
        progress = { ...progress, tasksPlanned: plan.children.length };
        state = {
          runId,
          definitionKey,
          version,
          tasksPlanned: plan.children.length,
          remaining: plan.children,
          started: 0,
          ...(writesTasks ? { writesTasks } : {}),
        };
      } catch (error) {
        throw await failRun({ runId }, error);
      }
    }
  }

  progress = { ...progress, step: 'spawning' };
  const causation = causationOf(input.trigger, runWorkflowId);
  let started = state.started;
  let remaining = state.remaining;
  const perRun = state.childrenPerRun ?? CHILDREN_PER_RUN;
  let startedHere = 0;
  while (remaining.length > 0) {
    const batch = remaining.slice(0, Math.min(CHILD_BATCH, perRun - startedHere));
    // Awaited here, not in an async helper (nor a handler per start): the SDK builds a stack
    // trace for every promise workflow code creates (its stack-trace query).
    const starts = startTasks(input, state, batch, runWorkflowId, causation, writesTasks);
    try {
      await Promise.all(starts);
    } catch (error) {
      await skipStartedTasks(starts, error);
    }
    started += batch.length;
    startedHere += batch.length;
    remaining = remaining.slice(batch.length);
    if (writesTasks) {
      const finish =
        remaining.length === 0
          ? { status: finalStatus(input), tasksPlanned: state.tasksPlanned, tasksStarted: started }
          : undefined;
      try {
        await db.writeTasks(writeTasksInput(input, state, batch, runWorkflowId, causation, finish));
      } catch (error) {
        throw await failBatch(state, batch, error);
      }
    }
    progress = { ...progress, tasksStarted: started };
    if (remaining.length > 0 && (startedHere >= perRun || workflowInfo().continueAsNewSuggested)) {
      await continueAsNew<typeof RunActivityWorkflow>(input, { ...state, remaining, started });
    }
  }

  progress = { ...progress, step: 'finishing' };
  // The run of an expired allOf window spawned its `onExpired` tasks: it ends expired.
  const status = finalStatus(input);
  // A run that writes its tasks finished in its last batch's transaction, unless it planned none.
  if (!writesTasks || state.tasksPlanned === 0) {
    await db.finishRun({
      runId: state.runId,
      status,
      summary: { tasksPlanned: state.tasksPlanned, tasksStarted: started },
    });
  }
  return result(status, state.runId, state.tasksPlanned, started);
}

/** The spawn state of a run that begins in one step (it always writes its tasks' rows). */
function spawnState(runId: string, definitionKey: string, version: number, children: PlannedChild[]): RunSpawnState {
  return {
    runId,
    definitionKey,
    version,
    tasksPlanned: children.length,
    remaining: children,
    started: 0,
    writesTasks: true,
  };
}

/** What `writeTasks` writes for a started batch (with `finish`, it also succeeds the run). */
function writeTasksInput(
  input: RunActivityInput,
  state: RunSpawnState,
  batch: readonly PlannedChild[],
  runWorkflowId: string,
  causation: TaskCausation,
  finish: WriteTasksInput['finish'],
): WriteTasksInput {
  return {
    runId: state.runId,
    runWorkflowId,
    definitionId: input.definitionId,
    definitionKey: state.definitionKey,
    definitionVersion: state.version,
    causation,
    tasks: batch,
    ...(finish ? { finish } : {}),
  };
}

/**
 * A batch whose rows could not be written (what retrying cannot fix) fails the run; the batch's
 * workflows, which have no rows, are cancelled first, so no task workflow is left holding a task
 * nobody can see.
 */
async function failBatch(state: RunSpawnState, batch: readonly PlannedChild[], error: unknown) {
  await Promise.all(
    batch.map((child) =>
      getExternalWorkflowHandle(child.workflowId)
        .cancel()
        .catch(() => undefined),
    ),
  );
  return failRun({ runId: state.runId }, error);
}

/** How a run that spawned its plan ends: `expired` for an expired allOf window's `onExpired` tasks. */
function finalStatus(input: RunActivityInput): 'succeeded' | 'expired' {
  return input.trigger.kind === 'window' && input.trigger.window.reason === 'expired' ? 'expired' : 'succeeded';
}

/**
 * Starts one TaskInstanceWorkflow per child of the batch, in order (waiting for the starts is the
 * caller's). A task id is used once: a repeated start (a reset, a rerun) is refused, see
 * {@link skipStartedTasks}.
 */
function startTasks(
  input: RunActivityInput,
  state: RunSpawnState,
  batch: readonly PlannedChild[],
  runWorkflowId: string,
  causation: TaskCausation,
  writesTasks: boolean,
): Promise<unknown>[] {
  return batch.map((child) =>
    startChild(TaskInstanceWorkflow, {
      workflowId: child.workflowId,
      args: [
        {
          workflowId: child.workflowId,
          runId: state.runId,
          runWorkflowId,
          definitionId: input.definitionId,
          definitionKey: state.definitionKey,
          definitionVersion: state.version,
          ...(writesTasks && child.taskId !== undefined ? { taskId: child.taskId } : {}),
          task: child.task,
          causation,
        },
      ],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      cancellationType: 'ABANDON',
      // A task id is used once: a repeated start (reset, rerun) finds the task, never redoes it.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    }),
  );
}

/**
 * A batch's starts after one was refused (`error`): a task workflow that already exists is the
 * task, so those refusals are skipped and the other starts awaited; any other failure is thrown,
 * as `Promise.all` over the starts would have. Only a batch that meets a refusal comes here, so
 * the usual batch creates no promise per start besides the SDK's own.
 */
async function skipStartedTasks(starts: readonly Promise<unknown>[], error: unknown): Promise<void> {
  if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  await Promise.all(
    starts.map((start) =>
      start.catch((refused: unknown) => {
        if (!(refused instanceof WorkflowExecutionAlreadyStartedError)) throw refused;
      }),
    ),
  );
}

const RECORD_FAILED_RUN_PATCH = 'record-failed-run';

/** A run that failed before `recordRun` recorded it: what `recordFailedRun` needs to record it. */
type UnrecordedRun = Omit<RecordFailedRunInput, 'error'>;

/**
 * The one way a run fails: the reason goes on the run (its status `failed`, a `run_failed`
 * entry in its log), recording the run first when the failure came before it was recorded;
 * then the workflow ends with the returned non-retryable failure.
 */
async function failRun(
  run: { runId: string } | { unrecorded: UnrecordedRun },
  error: unknown,
): Promise<ApplicationFailure> {
  const cause = error instanceof ActivityFailure && error.cause instanceof ApplicationFailure ? error.cause : error;
  const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
  const message = cause instanceof Error ? cause.message : String(cause);
  if ('runId' in run) await db.finishRun({ runId: run.runId, status: 'failed', error: { type, message } });
  // Runs that failed before they were recorded ended without a run row before this step
  // existed; their histories replay without it.
  else if (patched(RECORD_FAILED_RUN_PATCH)) await db.recordFailedRun({ ...run.unrecorded, error: { type, message } });
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    cause: error instanceof Error ? error : undefined,
  });
}

/** The nominal time Temporal gives every run a Schedule starts (a system search attribute). */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/**
 * A Schedule's action carries no nominal time (see {@link ScheduledRunInput}); Temporal puts
 * it in the `TemporalScheduledStartTime` search attribute (before jitter) and in the workflow
 * id it derives (`{base}-{nominal}`). Reading it here keeps every later step, and a
 * continue-as-new, on a full {@link RunActivityInput}. The run's trigger key comes with it:
 * the one its id was formed from, by the starter or, for a Schedule's run, by Temporal.
 */
function resolveScheduledInput(input: RunActivityInput | ScheduledRunInput): {
  input: RunActivityInput;
  triggerKey: string;
} {
  if (input.trigger.kind !== 'cron' || 'nominalTime' in input.trigger) {
    const full = input as RunActivityInput;
    return { input: full, triggerKey: runTriggerKey(full.trigger) };
  }
  const nominal = workflowInfo().typedSearchAttributes.get(SCHEDULED_START_TIME);
  if (!nominal || Number.isNaN(nominal.getTime())) {
    throw ApplicationFailure.create({
      type: FailureTypes.invalidDefinition,
      message: 'a cron run without a nominal time: start it from its Temporal Schedule (TemporalScheduledStartTime)',
      nonRetryable: true,
    });
  }
  return {
    input: { ...input, trigger: { ...input.trigger, nominalTime: nominal.toISOString() } },
    triggerKey: scheduledRunTriggerKey(nominal),
  };
}
