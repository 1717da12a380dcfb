// Activities of RunActivityWorkflow and TaskInstanceWorkflow: every IO the workflows need.
// Each is idempotent (activities are retried): writes go through insert-if-absent,
// same-transition-is-a-no-op repositories and run-log idempotency keys.
import {
  CronTriggerConfig,
  decideMisfireForSchedule,
  type EventEnvelope,
  eventKey,
  type MisfireDecision,
  planTasks,
  type TaskEventKind,
  taskEvent,
  taskWorkflowId,
  validateDefinitionSpec,
} from '@activity-core/core';
import {
  appendRunLog,
  CorruptRowError,
  type Database,
  getDefinition,
  getDefinitionVersion,
  InvalidTransitionError,
  insertRunOrGet,
  insertTaskIfAbsent,
  isFinishedRunStatus,
  type JsonObject,
  type JsonValue,
  type NewOutboxMessage,
  NotFoundError,
  newId,
  type RunLogKind,
  type RunStatus,
  type TaskRecord,
  toTaskInstance,
  transitionRun,
  transitionTask,
} from '@activity-core/db';
import { type Topology, taskSubject } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import {
  type Activities,
  type CloseTaskInput,
  type CreateTaskResult,
  FailureTypes,
  type FinishRunInput,
  type MisfireInput,
  type PlanRunInput,
  type PlanRunResult,
  type RecordRunInput,
  type RecordRunResult,
  type RunActivityResult,
  type RunContextInput,
  type RunTrigger,
  type TaskInstanceInput,
} from '@activity-core/workflows';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import {
  type ContextResolverRegistry,
  ContextSourceError,
  createContextResolverRegistry,
  type HttpSourceSettings,
  resolveContextSources,
  scrubSecrets,
} from './context-sources.ts';

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
  /** Called after a transaction wrote outbox rows, so an in-process relay can publish at once. */
  readonly onOutboxWritten?: () => void;
}

/** The activities, bound to their dependencies. Register the result on the worker. */
export function createActivities(deps: ActivityDeps): Activities {
  const clock = deps.clock ?? (() => new Date());
  const resolvers = deps.resolvers ?? createContextResolverRegistry();
  const eventSource = deps.eventSource ?? 'urn:activity-core';
  const log = (runId: string, kind: RunLogKind, data: JsonObject, idempotencyKey: string) =>
    appendRunLog(deps.db, { runId, kind, data, idempotencyKey });

  const outboxFor =
    (kind: TaskEventKind, input: TaskInstanceInput) =>
    (record: TaskRecord): NewOutboxMessage => {
      const id = newId();
      const task = toTaskInstance(record);
      const { envelope } = taskEvent(kind, task, {
        source: eventSource,
        id,
        time: (kind === 'created' ? record.createdAt : (record.completedAt ?? record.updatedAt)).toISOString(),
        causationDepth: input.causation.depth,
        ...(input.causation.causationId ? { causationId: input.causation.causationId } : {}),
        correlationId: input.causation.correlationId ?? input.runWorkflowId,
        ...(input.causation.traceparent ? { traceparent: input.causation.traceparent } : {}),
      });
      return {
        id,
        subject: taskSubject(deps.topology, kind, input.definitionKey),
        headers: { 'content-type': 'application/cloudevents+json' },
        body: envelope as JsonValue,
      };
    };

  return {
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
      const { run, created } = await insertRunOrGet(deps.db, {
        definitionId: definition.id,
        definitionVersion: input.version ?? definition.version,
        triggerKind: trigger.kind,
        triggerKey: input.triggerKey,
        workflowId: input.runWorkflowId,
        nominalTime: trigger.kind === 'cron' ? new Date(trigger.nominalTime) : null,
        jitterMs: trigger.kind === 'cron' ? scheduleDelayMs(trigger.nominalTime, input.startedAt) : null,
        event: trigger.kind === 'event' ? trigger.envelope : null,
      }).catch((error: unknown) => {
        // The pinned version does not exist (foreign key on definition_versions).
        if (input.version !== undefined && /foreign key/i.test(String(error))) {
          throw ApplicationFailure.create({
            type: FailureTypes.definitionNotFound,
            message: `definition ${input.definitionId} has no version ${input.version}`,
            nonRetryable: true,
          });
        }
        throw error;
      });
      await log(
        run.id,
        'triggered',
        { trigger: describeTrigger(trigger), version: run.definitionVersion },
        'triggered',
      );
      if (created) deps.logger.info('run recorded', { runId: run.id, workflowId: input.runWorkflowId });
      const stored =
        run.definitionVersion === definition.version
          ? definition.spec
          : (await getDefinitionVersion(deps.db, definition.id, run.definitionVersion)).spec;
      const validated = validateDefinitionSpec(stored);
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
      await transitionRun(deps.db, { id: input.runId, to: status, summary: data });
      return decision;
    },

    /** Resolves the context sources in order and snapshots them (secrets scrubbed) in the run log. */
    async resolveContext(input: RunContextInput): Promise<Record<string, unknown>> {
      await transitionRun(deps.db, { id: input.runId, to: 'running' });
      try {
        const resolved = await resolveContextSources(
          { db: deps.db, http: deps.http, resolvers },
          {
            spec: input.spec,
            definition: { id: input.definitionId, key: input.definitionKey, version: input.version },
            trigger: triggerVars(input.trigger),
            event: input.trigger.kind === 'event' ? input.trigger.envelope : undefined,
            now: input.now,
          },
          Context.current().cancellationSignal,
        );
        const snapshot = scrubSecrets(resolved.snapshot, resolved.secrets);
        await log(input.runId, 'context_resolved', { sources: snapshot as unknown as JsonValue }, 'context_resolved');
        return scrubSecrets(resolved.context, resolved.secrets);
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
    },

    /** Evaluates rules and renders templates (core planTasks); the result lands in workflow history. */
    async planRun(input: PlanRunInput): Promise<PlanRunResult> {
      const result = planTasks({
        spec: input.spec,
        event: input.trigger.kind === 'event' ? input.trigger.envelope : undefined,
        context: input.context,
        trigger: triggerVars(input.trigger),
        definition: { id: input.definitionId, key: input.definitionKey, version: input.version },
        now: input.now,
      });
      if (!result.ok) {
        throw ApplicationFailure.create({
          type: FailureTypes.planFailed,
          message: `${result.error.code} at ${result.error.path || '(definition)'}: ${result.error.message}`,
          nonRetryable: true,
        });
      }
      const { rules, tasks } = result.plan;
      await log(input.runId, 'rules_evaluated', { rules, tasksPlanned: tasks.length }, 'rules_evaluated');
      return {
        rules,
        children: tasks.map((t) => ({
          workflowId: taskWorkflowId(input.runWorkflowId, t.templateKey, t.index),
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
      };
    },

    /** Finishes the run (succeeded or failed) with its summary, and logs it. */
    async finishRun(input: FinishRunInput): Promise<void> {
      if (input.status === 'succeeded') {
        await log(input.runId, 'run_finished', { status: 'succeeded', ...(input.summary ?? {}) }, 'run_finished');
        await transitionRun(deps.db, { id: input.runId, to: 'succeeded', summary: input.summary ?? null });
      } else {
        const error = input.error ?? { type: 'Error', message: 'run failed' };
        await log(input.runId, 'run_failed', { error, ...(input.summary ?? {}) }, 'run_failed');
        await transitionRun(deps.db, { id: input.runId, to: 'failed', error, summary: input.summary ?? null });
      }
    },

    /** Inserts the TaskInstance and its `tasks.created.{key}` outbox row in one transaction, then logs it. */
    async createTask(input: TaskInstanceInput): Promise<CreateTaskResult> {
      const planned = input.task;
      const { task, created } = await insertTaskIfAbsent(
        deps.db,
        {
          runId: input.runId,
          definitionId: input.definitionId,
          definitionKey: input.definitionKey,
          definitionVersion: input.definitionVersion,
          templateKey: planned.templateKey,
          index: planned.index,
          idempotencyKey: input.workflowId,
          workflowId: input.workflowId,
          dedupeKey: planned.dedupeKey,
          title: planned.title,
          description: planned.description,
          assignee: planned.assignee,
          priority: planned.priority,
          labels: planned.labels,
          payload: (planned.payload ?? null) as JsonValue,
          dueAt: planned.dueAt ? new Date(planned.dueAt) : null,
          expiresAt: planned.expiresAt ? new Date(planned.expiresAt) : null,
        },
        outboxFor('created', input),
      );
      if (created) deps.onOutboxWritten?.();
      await log(
        input.runId,
        'task_created',
        { taskId: task.id, workflowId: input.workflowId, templateKey: planned.templateKey, index: planned.index },
        `task_created:${input.workflowId}`,
      );
      return { taskId: task.id, status: task.status, by: task.completedBy, reason: task.reason, created };
    },

    /** Closes the task (completed / cancelled / expired): row, outbox event and log entry, each once. */
    async closeTask(input: CloseTaskInput): Promise<CreateTaskResult> {
      try {
        const { task, changed } = await transitionTask(
          deps.db,
          { id: input.taskId, to: input.to, by: input.action?.by ?? 'system', reason: input.action?.reason ?? null },
          outboxFor(input.to, input.task),
        );
        if (changed) deps.onOutboxWritten?.();
        const kind: RunLogKind =
          input.to === 'completed' ? 'task_completed' : input.to === 'cancelled' ? 'task_cancelled' : 'task_expired';
        await log(
          input.task.runId,
          kind,
          {
            taskId: task.id,
            workflowId: input.task.workflowId,
            by: task.completedBy,
            reason: task.reason,
            ...(input.action?.result !== undefined ? { result: input.action.result as JsonValue } : {}),
            at: (task.completedAt ?? clock()).toISOString(),
          },
          `${kind}:${input.task.workflowId}`,
        );
        return { taskId: task.id, status: task.status, by: task.completedBy, reason: task.reason, created: false };
      } catch (error) {
        if (error instanceof InvalidTransitionError) {
          throw ApplicationFailure.create({
            type: FailureTypes.taskNotOpen,
            message: error.message,
            nonRetryable: true,
          });
        }
        throw error;
      }
    },
  };
}

/** The trigger as templates and rules see it (`trigger.kind`, `trigger.eventKey`, …). */
function triggerVars(trigger: RunTrigger): Record<string, unknown> {
  switch (trigger.kind) {
    case 'event':
      return { kind: 'event', eventKey: eventKey(trigger.envelope), type: trigger.envelope.type };
    case 'cron':
      return { kind: 'cron', nominalTime: trigger.nominalTime, scheduleId: trigger.scheduleId };
    case 'manual':
      return {
        kind: 'manual',
        requestedBy: trigger.requestedBy,
        idempotencyKey: trigger.idempotencyKey,
        payload: trigger.payload ?? null,
      };
    default:
      return assertNeverTrigger(trigger);
  }
}

/**
 * The delay the Schedule added to a cron start (jitter plus scheduler latency), or null when
 * the start is later than any jitter could explain (backfill, catch-up after an outage, a
 * manual start of an old occurrence): that is lateness, which the misfire entry records.
 */
function scheduleDelayMs(nominalTime: string, startedAt: string | undefined): number | null {
  if (startedAt === undefined) return null;
  const delay = Math.max(0, Date.parse(startedAt) - Date.parse(nominalTime));
  return delay <= MAX_JITTER_MS ? delay : null;
}

/** CronTriggerConfig allows jitter up to an hour; a minute more covers scheduler latency. */
const MAX_JITTER_MS = 3_600_000 + 60_000;

function describeTrigger(trigger: RunTrigger): JsonObject {
  switch (trigger.kind) {
    case 'event': {
      const e: EventEnvelope = trigger.envelope;
      return { kind: 'event', id: e.id, source: e.source, type: e.type, eventKey: eventKey(e) };
    }
    case 'cron':
      return { kind: 'cron', nominalTime: trigger.nominalTime, scheduleId: trigger.scheduleId };
    case 'manual':
      return { kind: 'manual', requestedBy: trigger.requestedBy, idempotencyKey: trigger.idempotencyKey };
    default:
      return assertNeverTrigger(trigger);
  }
}

function assertNeverTrigger(trigger: never): never {
  throw new TypeError(`unknown run trigger ${JSON.stringify(trigger)}`);
}
