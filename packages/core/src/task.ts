import { z } from 'zod';
import { EventEnvelope } from './envelope.ts';

export const TaskStatus = z.enum(['open', 'completed', 'cancelled', 'expired']);
export type TaskStatus = z.infer<typeof TaskStatus>;

const IsoTime = z.iso.datetime({ offset: true });

/** A spawned task as stored and as published in `tasks.*` events. */
export const TaskInstance = z.object({
  id: z.string().min(1),
  runId: z.string().min(1),
  definitionId: z.string().min(1),
  definitionKey: z.string().min(1),
  /** The definition version the run that created the task used. */
  definitionVersion: z.number().int().positive(),
  templateKey: z.string().min(1),
  index: z.number().int().nonnegative(),
  /** Equals the task workflow id: `task:{runWorkflowId}:{templateKey}:{index}`. */
  idempotencyKey: z.string().min(1),
  title: z.string(),
  description: z.string().nullable(),
  assignee: z.string().nullable(),
  priority: z.string().nullable(),
  labels: z.array(z.string()),
  dueAt: IsoTime.nullable(),
  expiresAt: IsoTime.nullable(),
  payload: z.unknown(),
  status: TaskStatus,
  createdAt: IsoTime,
  updatedAt: IsoTime,
  completedAt: IsoTime.nullable(),
  completedBy: z.string().nullable(),
  reason: z.string().nullable(),
});
export type TaskInstance = z.infer<typeof TaskInstance>;

export const TaskEventKind = z.enum(['created', 'completed', 'cancelled', 'expired']);
export type TaskEventKind = z.infer<typeof TaskEventKind>;

export interface TaskEventOptions {
  /** CloudEvents source of activity-core, e.g. `urn:activity-core`. */
  source: string;
  /** Usually the outbox row id, also used as `Nats-Msg-Id`. */
  id: string;
  /** RFC 3339 time of the change. */
  time: string;
  causationId?: string;
  /** Depth of the event that caused the run, plus one. */
  causationDepth: number;
  correlationId?: string;
  traceparent?: string;
}

/**
 * Builds the CloudEvent published when a task changes, and the subject to publish it on:
 * `tasks.{kind}.{definitionKey}`, type `activitycore.task.{kind}`, data = the TaskInstance.
 */
export function taskEvent(
  kind: TaskEventKind,
  task: TaskInstance,
  options: TaskEventOptions,
): { subject: string; envelope: EventEnvelope } {
  const attributes: Record<string, unknown> = {
    specversion: '1.0',
    id: options.id,
    source: options.source,
    type: `activitycore.task.${kind}`,
    time: options.time,
    subject: task.id,
    datacontenttype: 'application/json',
    data: task,
    causationid: options.causationId,
    causationdepth: options.causationDepth,
    correlationid: options.correlationId,
    traceparent: options.traceparent,
  };
  for (const [name, value] of Object.entries(attributes)) if (value === undefined) delete attributes[name];
  const envelope = EventEnvelope.parse(attributes);
  return { subject: `tasks.${kind}.${task.definitionKey}`, envelope };
}
