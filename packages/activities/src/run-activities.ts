// The run-side activities of RunActivityWorkflow: begin the run in one step (beginRun), or, for
// histories recorded before it, record the run and load its pinned version, decide a cron
// misfire, resolve context and plan the tasks as separate steps; finish the run. Each is idempotent
// (activities are retried): run rows are insert-if-absent, transitions to the same state are
// no-ops, run-log entries carry idempotency keys.
import {
  CronTriggerConfig,
  DEFAULT_INPUT_LIMITS,
  decideMisfireForSchedule,
  type EventEnvelope,
  type JsonObject,
  type MisfireDecision,
  planTasks,
  StoredEventEnvelope,
  storableCopy,
  taskWorkflowId,
  validateDefinitionSpec,
} from '@activity-core/core';
import {
  appendRunLogEntries,
  CorruptRowError,
  changeRunStatus,
  changeRunStatusWithLog,
  getDefinition,
  getDefinitionVersion,
  insertRunOfDefinition,
  insertRunOrGet,
  inTransaction,
  isFinishedRunStatus,
  type JsonValue,
  type NewRunLogEntry,
  NotFoundError,
  newId,
  pgErrorCode,
  type RunLogKind,
  type RunStatus,
  transitionRun,
} from '@activity-core/db';
import { toActivityFailure } from '@activity-core/failures';
import {
  type BeginRunInput,
  type BeginRunResult,
  FailureTypes,
  type FinishRunInput,
  type MisfireInput,
  type PlanRunInput,
  type PlanRunResult,
  type RecordFailedRunInput,
  type RecordRunInput,
  type RecordRunResult,
  type RunActivities,
  type RunActivityResult,
  type RunContextInput,
  type RunTrigger,
} from '@activity-core/workflows';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createContextResolverRegistry } from './context-sources/custom.ts';
import { ContextSourceError } from './context-sources/errors.ts';
import { resolveContextSources } from './context-sources/resolve.ts';
import { scrubSecrets } from './context-sources/secrets.ts';
import { type ActivityDeps, finishRunStatus, reportRunChange, runLogWriter, succeedRun } from './deps.ts';
import { createPinnedSpecs, pinnedSpecError } from './pinned-specs.ts';
import { describeTrigger, eventVars, scheduleDelayMs, triggerLogFields, triggerVars } from './run-trigger.ts';

/** The run-side activities, bound to their dependencies. */
export function createRunActivities(deps: ActivityDeps): RunActivities {
  const resolvers = deps.resolvers ?? createContextResolverRegistry();
  const log = runLogWriter(deps);
  const limitsOption = deps.expressionLimits ? { limits: deps.expressionLimits } : {};
  const limits = deps.expressionLimits?.input ?? DEFAULT_INPUT_LIMITS;
  const specs = createPinnedSpecs({
    load: async (definitionId, version) => (await getDefinitionVersion(deps.db, definitionId, version)).spec,
    ...(deps.expressionLimits ? { limits: deps.expressionLimits } : {}),
  });

  /** The run's row, inserted once per trigger key (found on a repeated start), with the version it pins. */
  const insertRun = (currentVersion: number, input: RecordRunInput) =>
    insertRunOrGet(deps.db, { ...runRowOf(input), definitionVersion: input.version ?? currentVersion }).catch(
      pinnedVersionMissing(input),
    );

  /** Resolves the context sources in order: the context (secrets scrubbed) and its run-log snapshot. */
  const resolveContextFor = async (input: RunContextInput) => {
    try {
      const resolved = await resolveContextSources(
        { db: deps.db, http: deps.http, resolvers, ...limitsOption },
        {
          spec: input.spec,
          definition: { id: input.definitionId, key: input.definitionKey, version: input.version },
          trigger: triggerVars(input.trigger),
          ...eventVars(input.trigger, input.spec, input.now),
          now: input.now,
          attempt: Context.current().info.attempt,
        },
        Context.current().cancellationSignal,
      );
      const snapshot = scrubSecrets(resolved.snapshot, resolved.secrets);
      return {
        context: scrubSecrets(resolved.context, resolved.secrets),
        entry: {
          kind: 'context_resolved',
          data: { sources: snapshot as unknown as JsonValue },
          idempotencyKey: 'context_resolved',
        } satisfies NewRunLogEntry,
      };
    } catch (error) {
      if (error instanceof ContextSourceError) {
        throw ApplicationFailure.create({
          type: FailureTypes.contextFailed,
          message: error.message,
          nonRetryable: !error.retryable,
        });
      }
      throw error;
    }
  };

  /** Evaluates rules and renders templates (core planTasks): the children, or why the plan failed. */
  const planFor = (
    input: PlanRunInput,
  ): { ok: true; result: PlanRunResult; entry: NewRunLogEntry } | { ok: false; failure: ApplicationFailure } => {
    const planned = planTasks({
      spec: input.spec,
      ...eventVars(input.trigger, input.spec, input.now),
      context: input.context,
      trigger: triggerVars(input.trigger),
      definition: { id: input.definitionId, key: input.definitionKey, version: input.version },
      now: input.now,
      ...limitsOption,
    });
    if (!planned.ok) {
      return {
        ok: false,
        failure: ApplicationFailure.create({
          type: FailureTypes.planFailed,
          message: `${planned.error.code} at ${planned.error.path || '(definition)'}: ${planned.error.message}`,
          nonRetryable: true,
        }),
      };
    }
    const { rules, tasks } = planned.plan;
    return {
      ok: true,
      entry: {
        kind: 'rules_evaluated',
        data: { rules, tasksPlanned: tasks.length },
        idempotencyKey: 'rules_evaluated',
      },
      result: {
        rules,
        children: tasks.map((t) => ({
          workflowId: taskWorkflowId(input.runWorkflowId, t.templateKey, t.index),
          // Chosen here so the history holds it: a retried or replayed `writeTasks` writes the same row.
          taskId: newId(),
          task: {
            templateKey: t.templateKey,
            index: t.index,
            title: t.title,
            description: t.description ?? null,
            assignee: t.assignee ?? null,
            priority: t.priority ?? null,
            labels: t.labels,
            payload: t.payload ?? null,
            dedupeKey: t.dedupeKey ?? null,
            dueAt: t.dueAt ?? null,
            expiresAt: t.expiresAt ?? null,
          },
        })),
      },
    };
  };

  return {
    async beginRun(input: BeginRunInput): Promise<BeginRunResult> {
      // The definition's head and the run's row in one statement.
      const { definition, run, created } = await insertRunOfDefinition(deps.db, {
        ...runRowOf(input),
        definitionVersion: input.version,
      })
        .catch((error: unknown) => {
          if (error instanceof NotFoundError) {
            throw ApplicationFailure.create({
              type: FailureTypes.definitionNotFound,
              message: `definition ${input.definitionId} does not exist`,
              nonRetryable: true,
            });
          }
          throw error;
        })
        .catch(pinnedVersionMissing(input));
      const trigger = input.trigger;
      const runId = run.id;
      const version = run.definitionVersion;
      if (created) {
        deps.metrics?.runStarted(run.triggerKind);
        deps.logger.info('run recorded', {
          runId,
          workflowId: input.runWorkflowId,
          definitionKey: definition.key,
          ...triggerLogFields(trigger),
        });
      }
      // Written with the run's next step (once per run: it has a key), and alone before a failure.
      const triggered: NewRunLogEntry = {
        kind: 'triggered',
        data: { trigger: describeTrigger(trigger), version },
        idempotencyKey: 'triggered',
      };
      const logTriggered = () => appendRunLogEntries(deps.db, runId, [triggered]);
      // The run is recorded: from here a permanent error is returned, for the workflow's failRun.
      let resolving = false;
      try {
        if (isFinishedRunStatus(run.status)) {
          await logTriggered();
          return { outcome: 'finished', runId, status: run.status as RunActivityResult['status'] };
        }
        const pinned = await specs.get(definition.id, version);
        if (!pinned.ok) {
          await logTriggered();
          return { outcome: 'invalid', runId, error: pinnedSpecError(definition.key, version, pinned) ?? '' };
        }
        const spec = pinned.spec;
        if (trigger.kind === 'cron' && spec.trigger.kind === 'cron') {
          const decision = decideMisfireForSchedule(
            spec.trigger.cron,
            new Date(trigger.nominalTime),
            new Date(input.actualTime),
          );
          if (decision.action !== 'run') {
            const status: RunStatus = decision.action === 'skip' ? 'skipped' : 'coalesced';
            const kind: RunLogKind = decision.action === 'skip' ? 'misfire_skipped' : 'misfire_coalesced';
            const data = { nominalTime: trigger.nominalTime, actualTime: input.actualTime, ...decision };
            const change = await inTransaction(deps.db, async (trx) => {
              await appendRunLogEntries(trx, runId, [triggered, { kind, data, idempotencyKey: kind }]);
              return changeRunStatus(trx, { id: runId, to: status, summary: data });
            });
            reportRunChange(deps, change);
            return { outcome: 'finished', runId, status: status as RunActivityResult['status'] };
          }
        }
        const base = {
          runId,
          definitionId: definition.id,
          definitionKey: definition.key,
          version,
          spec,
          trigger,
          now: input.now,
        };
        if (spec.contextSources.some((source) => source.kind === 'http' || source.kind === 'custom')) {
          await logTriggered();
          return { outcome: 'resolveRemotely', runId, version, definitionKey: definition.key, spec };
        }
        resolving = true;
        const resolved = await resolveContextFor(base);
        const plan = planFor({ ...base, runWorkflowId: input.runWorkflowId, context: resolved.context });
        const entries = plan.ok ? [triggered, resolved.entry, plan.entry] : [triggered, resolved.entry];
        if (plan.ok && plan.result.children.length === 0) {
          const finished = await inTransaction(deps.db, async (trx) => {
            await transitionRun(trx, { id: runId, to: 'running' });
            return succeedRun(trx, runId, { tasksPlanned: 0, tasksStarted: 0 }, entries, input.emptyStatus);
          });
          reportRunChange(deps, finished);
        } else {
          // Not in a transaction of ours: one statement when the run moves (see changeRunStatusWithLog).
          await changeRunStatusWithLog(deps.db, { id: runId, to: 'running' }, entries);
        }
        if (!plan.ok) return { outcome: 'failed', runId, error: failureReason(plan.failure) };
        if (plan.result.children.length === 0) return { outcome: 'finished', runId, status: input.emptyStatus };
        return { outcome: 'planned', runId, version, definitionKey: definition.key, children: plan.result.children };
      } catch (error) {
        const failure = toActivityFailure(error);
        if (!(failure instanceof ApplicationFailure) || !failure.nonRetryable) throw error;
        // What the run did before it failed, as the separate steps would have left it.
        await inTransaction(deps.db, async (trx) => {
          await appendRunLogEntries(trx, runId, [triggered]);
          if (resolving) await transitionRun(trx, { id: runId, to: 'running' });
        });
        return { outcome: 'failed', runId, error: failureReason(failure) };
      }
    },

    /**
     * Records the run (idempotent by trigger key) and loads the pinned definition version:
     * the version in the run row wins, so a retried or repeated start never switches version.
     */
    async recordRun(input: RecordRunInput): Promise<RecordRunResult> {
      const definition = await getDefinition(deps.db, input.definitionId).catch((error: unknown) => {
        if (error instanceof NotFoundError) {
          throw ApplicationFailure.create({
            type: FailureTypes.definitionNotFound,
            message: `definition ${input.definitionId} does not exist`,
            nonRetryable: true,
          });
        }
        if (error instanceof CorruptRowError) {
          throw ApplicationFailure.create({
            type: FailureTypes.invalidDefinition,
            message: `definition ${input.definitionId} is unreadable: ${error.message}`,
            nonRetryable: true,
          });
        }
        throw error;
      });
      const trigger = input.trigger;
      const { run, created } = await insertRun(definition.version, input);
      await log(
        run.id,
        'triggered',
        { trigger: describeTrigger(trigger), version: run.definitionVersion },
        'triggered',
      );
      if (created) {
        deps.metrics?.runStarted(run.triggerKind);
        deps.logger.info('run recorded', {
          runId: run.id,
          workflowId: input.runWorkflowId,
          definitionKey: definition.key,
          ...triggerLogFields(trigger),
        });
      }
      const stored =
        run.definitionVersion === definition.version
          ? definition.spec
          : (await getDefinitionVersion(deps.db, definition.id, run.definitionVersion)).spec;
      // As saved: a definition that passed the checks of its day keeps running after an upgrade;
      // the run-time budget holds it now.
      const validated = validateDefinitionSpec(stored, { stored: true, ...limitsOption });
      if (!validated.ok) {
        const error = `definition ${definition.key} version ${run.definitionVersion} is invalid: ${validated.errors
          .map((e) => `${e.path}: ${e.message}`)
          .join('; ')}`;
        return { ok: false, runId: run.id, version: run.definitionVersion, error };
      }
      return {
        ok: true,
        runId: run.id,
        version: run.definitionVersion,
        definitionKey: definition.key,
        spec: validated.spec,
        finished: isFinishedRunStatus(run.status) ? (run.status as RunActivityResult['status']) : null,
      };
    },

    /** Applies the cron misfire policy; a skipped or coalesced occurrence is recorded and finished here. */
    async checkMisfire(input: MisfireInput): Promise<MisfireDecision> {
      const cron = CronTriggerConfig.parse(input.cron);
      const decision = decideMisfireForSchedule(cron, new Date(input.nominalTime), new Date(input.actualTime));
      if (decision.action === 'run') return decision;
      const status: RunStatus = decision.action === 'skip' ? 'skipped' : 'coalesced';
      const kind: RunLogKind = decision.action === 'skip' ? 'misfire_skipped' : 'misfire_coalesced';
      const data = { nominalTime: input.nominalTime, actualTime: input.actualTime, ...decision };
      await log(input.runId, kind, data, kind);
      await finishRunStatus(deps, { id: input.runId, to: status, summary: data });
      return decision;
    },

    /** Resolves the context sources in order and snapshots them (secrets scrubbed) in the run log. */
    async resolveContext(input: RunContextInput): Promise<Record<string, unknown>> {
      await transitionRun(deps.db, { id: input.runId, to: 'running' });
      const resolved = await resolveContextFor(input);
      const { kind, data, idempotencyKey } = resolved.entry;
      await log(input.runId, kind, data ?? {}, idempotencyKey);
      return resolved.context;
    },

    /** Evaluates rules and renders templates (core planTasks); the result lands in workflow history. */
    async planRun(input: PlanRunInput): Promise<PlanRunResult> {
      const plan = planFor(input);
      if (!plan.ok) throw plan.failure;
      const { kind, data, idempotencyKey } = plan.entry;
      await log(input.runId, kind, data ?? {}, idempotencyKey);
      return plan.result;
    },

    /** Finishes the run (succeeded or failed) with its summary, and logs it. */
    async finishRun(input: FinishRunInput): Promise<void> {
      if (input.status === 'succeeded' || input.status === 'expired') {
        reportRunChange(deps, await succeedRun(deps.db, input.runId, input.summary, [], input.status));
      } else {
        await failRecordedRun(input.runId, input.error, input.summary);
      }
    },

    async recordFailedRun(input: RecordFailedRunInput): Promise<{ runId: string | null }> {
      const definition = await getDefinition(deps.db, input.definitionId).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (!definition) return { runId: null };
      const trigger = storableTrigger(input.trigger);
      const { run, created } = await insertRunOrGet(deps.db, {
        definitionId: definition.id,
        definitionVersion: input.version ?? definition.version,
        triggerKind: trigger.kind,
        triggerKey: storableCopy(input.triggerKey) as string,
        workflowId: storableCopy(input.runWorkflowId) as string,
        event: trigger.kind === 'event' ? trigger.envelope : null,
      }).catch(async (error: unknown) => {
        // The pinned version does not exist: record the run against the current one.
        if (pgErrorCode(error) !== PG_FOREIGN_KEY_VIOLATION) throw error;
        return insertRunOrGet(deps.db, {
          definitionId: definition.id,
          definitionVersion: definition.version,
          triggerKind: trigger.kind,
          triggerKey: storableCopy(input.triggerKey) as string,
          workflowId: storableCopy(input.runWorkflowId) as string,
          event: trigger.kind === 'event' ? trigger.envelope : null,
        });
      });
      await log(
        run.id,
        'triggered',
        { trigger: describeTrigger(trigger), version: run.definitionVersion },
        'triggered',
      );
      if (created) deps.metrics?.runStarted(run.triggerKind);
      await failRecordedRun(run.id, input.error);
      deps.logger.warn('run failed before it could be recorded', {
        runId: run.id,
        definitionKey: definition.key,
        workflowId: input.runWorkflowId,
        ...triggerLogFields(trigger),
        error: input.error.type,
      });
      return { runId: run.id };
    },
  };

  /** The `run_failed` entry and the `failed` status, with a reason PostgreSQL can store. */
  async function failRecordedRun(runId: string, reason: FinishRunInput['error'], summary?: JsonObject): Promise<void> {
    const error = storableCopy(reason ?? { type: 'Error', message: 'run failed' }, limits) as JsonObject;
    await log(runId, 'run_failed', { error: error as JsonValue, ...(summary ?? {}) }, 'run_failed');
    await finishRunStatus(deps, { id: runId, to: 'failed', error, summary: summary ?? null });
  }
}

/** The reason a permanent failure gives the run (its `run_failed` entry), as the workflow's failRun reads it. */
function failureReason(failure: ApplicationFailure): { type: string; message: string } {
  return { type: failure.type ?? 'Error', message: failure.message };
}

/** The run row's values of a start (all but its definition version). */
function runRowOf(input: RecordRunInput) {
  const trigger = input.trigger;
  return {
    definitionId: input.definitionId,
    triggerKind: trigger.kind,
    triggerKey: input.triggerKey,
    workflowId: input.runWorkflowId,
    nominalTime: trigger.kind === 'cron' ? new Date(trigger.nominalTime) : null,
    jitterMs: trigger.kind === 'cron' ? scheduleDelayMs(trigger.nominalTime, input.startedAt) : null,
    event: trigger.kind === 'event' ? trigger.envelope : null,
    // A window's run row exists from the window's opening; this insert only finds it.
    window: trigger.kind === 'window' ? trigger.window : null,
  };
}

/** The pinned version does not exist (foreign key on definition_versions): a permanent failure. */
function pinnedVersionMissing(input: RecordRunInput) {
  return (error: unknown): never => {
    if (input.version !== undefined && pgErrorCode(error) === PG_FOREIGN_KEY_VIOLATION) {
      throw ApplicationFailure.create({
        type: FailureTypes.definitionNotFound,
        message: `definition ${input.definitionId} has no version ${input.version}`,
        nonRetryable: true,
      });
    }
    throw error;
  };
}

/** PostgreSQL's foreign_key_violation: the referenced row (a pinned definition version) is missing. */
const PG_FOREIGN_KEY_VIOLATION = '23503';

/**
 * The trigger of a run that could not be recorded, as PostgreSQL can store it: strings without
 * NUL or unpaired surrogates, values cut to the input limits. An envelope that is not one at all
 * (a start written around ingest) is left out.
 */
function storableTrigger(trigger: RunTrigger): RunTrigger {
  const copy = storableCopy(trigger) as RunTrigger;
  if (copy.kind !== 'event') return copy;
  const envelope = StoredEventEnvelope.safeParse(copy.envelope);
  return envelope.success
    ? { kind: 'event', envelope: envelope.data }
    : { kind: 'event', envelope: unreadableEnvelope() };
}

function unreadableEnvelope(): EventEnvelope {
  return { specversion: '1.0', id: '(unreadable)', source: '(unreadable)', type: '(unreadable)', causationdepth: 0 };
}
