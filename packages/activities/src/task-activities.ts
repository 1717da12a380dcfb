// The task-side activities of TaskInstanceWorkflow: the TaskInstance row, its outbox event and
// its run-log entry, written once each however often an activity is retried.
import { type TaskEventKind, taskEvent } from '@activity-core/core';
import {
  InvalidTransitionError,
  insertRunTasks,
  insertTaskIfAbsent,
  type JsonValue,
  type NewOutboxMessage,
  type NewTask,
  newId,
  type RunLogKind,
  type TaskRecord,
  toTaskInstance,
  transitionTask,
} from '@activity-core/db';
import { taskSubject } from '@activity-core/messaging';
import { TRACER_NAME, traceparentOf } from '@activity-core/runtime';
import {
  type CloseTaskInput,
  type CreateTaskResult,
  FailureTypes,
  type PlannedChild,
  type TaskActivities,
  type TaskInstanceInput,
  type WriteTasksInput,
} from '@activity-core/workflows';
import { context, trace } from '@opentelemetry/api';
import { ApplicationFailure } from '@temporalio/common';
import { type ActivityDeps, type CommittedOutboxRow, reportRunChange, runFinishedEntry, runLogWriter } from './deps.ts';

/** The row `enqueueOutbox` writes for `message` (whose id the builder chose), as the relay publishes it. */
function committedRow(message: NewOutboxMessage): CommittedOutboxRow {
  if (message.id === undefined) throw new Error('a task outbox message has no id');
  return { id: message.id, subject: message.subject, headers: message.headers ?? {}, body: message.body };
}

/** The task-side activities, bound to their dependencies. */
export function createTaskActivities(deps: ActivityDeps): TaskActivities {
  const clock = deps.clock ?? (() => new Date());
  const eventSource = deps.eventSource ?? 'urn:activity-core';
  const log = runLogWriter(deps);

  const outboxFor =
    (kind: TaskEventKind, input: TaskInstanceInput) =>
    (record: TaskRecord): NewOutboxMessage => {
      const id = newId();
      const task = toTaskInstance(record);
      const traceparent = taskSpanTraceparent(kind, task, input) ?? input.causation.traceparent;
      const { envelope } = taskEvent(kind, task, {
        source: eventSource,
        id,
        time: (kind === 'created' ? record.createdAt : (record.completedAt ?? record.updatedAt)).toISOString(),
        causationDepth: input.causation.depth,
        ...(input.causation.causationId ? { causationId: input.causation.causationId } : {}),
        correlationId: input.causation.correlationId ?? input.runWorkflowId,
        ...(traceparent ? { traceparent } : {}),
      });
      return {
        id,
        subject: taskSubject(deps.topology, kind, input.definitionKey),
        // The plain `traceparent` header beside the structured attribute: what ingest reads too.
        headers: { 'content-type': 'application/cloudevents+json', ...(traceparent ? { traceparent } : {}) },
        body: envelope as JsonValue,
        orderKey: record.id,
      };
    };

  const createdEntry = (input: TaskInstanceInput, taskId: string) => ({
    kind: 'task_created' as const,
    data: { taskId, workflowId: input.workflowId, templateKey: input.task.templateKey, index: input.task.index },
    idempotencyKey: `task_created:${input.workflowId}`,
  });

  return {
    async writeTasks(input: WriteTasksInput): Promise<void> {
      const children = input.tasks.map((child) => taskInputOf(input, child));
      const outbox = new Map(children.map((child) => [child.workflowId, outboxFor('created', child)]));
      // The last batch finishes the run: its `run_finished` entry after the batch's, with its status.
      const finish = input.finish ? finishOf(input.finish) : undefined;
      const {
        rows: written,
        change,
        outbox: stored,
      } = await insertRunTasks(deps.db, {
        runId: input.runId,
        tasks: children.map(newTaskOf),
        outbox: (record) => {
          const build = outbox.get(record.idempotencyKey);
          if (!build) throw new Error(`task ${record.idempotencyKey} is not in this batch`);
          return build(record);
        },
        entries: (rows) => {
          const created = rows.map(({ task }, i) => createdEntry(children[i] as TaskInstanceInput, task.id));
          return finish ? [...created, runFinishedEntry(finish.status, finish.summary)] : created;
        },
        ...(finish ? { finish: { id: input.runId, to: finish.status, summary: finish.summary } } : {}),
      });
      // The `tasks.created` rows of the tasks this call inserted, each the first of its key.
      if (written.some((row) => row.created)) deps.onOutboxWritten?.(stored.map(committedRow));
      // After the commit: a rolled-back attempt reports nothing; its retry finds what it wrote.
      deps.metrics?.tasksCreated(written.filter((row) => row.created).length);
      reportRunChange(deps, change);
    },

    /** Inserts the TaskInstance and its `tasks.created.{key}` outbox row in one transaction, then logs it. */
    async createTask(input: TaskInstanceInput): Promise<CreateTaskResult> {
      let committed: CommittedOutboxRow | undefined;
      const { task, created } = await insertTaskIfAbsent(deps.db, newTaskOf(input), (record) => {
        const message = outboxFor('created', input)(record);
        committed = committedRow(message);
        return message;
      });
      if (created) {
        deps.onOutboxWritten?.(committed ? [committed] : undefined);
        deps.metrics?.tasksCreated(1);
      }
      const entry = createdEntry(input, task.id);
      await log(input.runId, entry.kind, entry.data, entry.idempotencyKey);
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
        if (changed) {
          deps.onOutboxWritten?.();
          deps.metrics?.taskClosed(input.to);
        }
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

/**
 * With tracing on (an activity span is active), a span for this change of the task, child of the
 * activity that writes it (writeTasks / createTask / closeTask, itself under the run or task
 * workflow): its `traceparent` goes into the outbox row and the task event, so the relay's
 * publish and whatever consumes the event hang under this task's change in the inbound trace.
 * One span per row, not the activity's own span, because writeTasks writes a whole batch.
 * Without an active span (tracing off): undefined, and the event keeps the inbound traceparent.
 */
function taskSpanTraceparent(
  kind: TaskEventKind,
  task: { readonly id: string; readonly templateKey: string },
  input: TaskInstanceInput,
): string | undefined {
  if (trace.getActiveSpan() === undefined) return undefined;
  const span = trace.getTracer(TRACER_NAME).startSpan(
    `task ${kind}`,
    {
      attributes: {
        'activity_core.task.id': task.id,
        'activity_core.task.workflow_id': input.workflowId,
        'activity_core.task.template_key': task.templateKey,
        'activity_core.definition.key': input.definitionKey,
        'activity_core.run.id': input.runId,
      },
    },
    context.active(),
  );
  span.end();
  return traceparentOf(span);
}

/** The status and summary a run's last batch finishes it with. */
function finishOf(finish: NonNullable<WriteTasksInput['finish']>) {
  const { status, ...summary } = finish;
  return { status, summary };
}

/** The input of a task's workflow, as its run started it (see RunActivityWorkflow's `startTask`). */
function taskInputOf(input: WriteTasksInput, child: PlannedChild): TaskInstanceInput {
  return {
    workflowId: child.workflowId,
    runId: input.runId,
    runWorkflowId: input.runWorkflowId,
    definitionId: input.definitionId,
    definitionKey: input.definitionKey,
    definitionVersion: input.definitionVersion,
    ...(child.taskId !== undefined ? { taskId: child.taskId } : {}),
    task: child.task,
    causation: input.causation,
  };
}

/** The TaskInstance row of a task's workflow input; its workflow id is its idempotency key. */
function newTaskOf(input: TaskInstanceInput): NewTask {
  const planned = input.task;
  return {
    ...(input.taskId !== undefined ? { id: input.taskId } : {}),
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
  };
}
