import { type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Topology } from './topology.ts';

export interface StreamLimits {
  /** How long inbound events are kept (they are acked long before). */
  readonly eventsMaxAgeMs: number;
  /** How long dead letters are kept for an operator to inspect and redrive. */
  readonly dlqMaxAgeMs: number;
  readonly tasksMaxAgeMs: number;
  /** De-duplication window of the task stream; the outbox relay's retries must fall in it. */
  readonly tasksDuplicateWindowMs: number;
  readonly eventsDuplicateWindowMs: number;
}

const DAY = 24 * 60 * 60 * 1000;
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  eventsMaxAgeMs: 7 * DAY,
  dlqMaxAgeMs: 30 * DAY,
  tasksMaxAgeMs: 7 * DAY,
  tasksDuplicateWindowMs: 60 * 60 * 1000,
  eventsDuplicateWindowMs: 10 * 60 * 1000,
};

/**
 * Where task events re-enter as inbound events: `tasks.created.{key}` is sourced into the
 * events stream as `events.activitycore.task.created.{key}` (the subject mirrors the CloudEvent
 * type `activitycore.task.created`), so definitions can trigger on task events. Their
 * causation depth, one more per hop, lets ingest stop loops.
 */
export function taskEventSubjectInEvents(t: Topology, kind: string, definitionKey: string): string {
  return `${t.events.subjectPrefix}activitycore.task.${kind}.${definitionKey}`;
}

export interface StreamOptions {
  /** Source AC_TASKS into AC_EVENTS (default true; needs nats-server 2.10+). */
  readonly feedTaskEvents?: boolean;
}

export function streamConfigs(
  t: Topology,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  options: StreamOptions = {},
): StreamConfig[] {
  const base = { storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: 1 } as const;
  const feed = options.feedTaskEvents ?? true;
  const events = {
    ...base,
    name: t.events.stream,
    subjects: [...t.events.subjects],
    max_age: nanos(limits.eventsMaxAgeMs),
    duplicate_window: nanos(limits.eventsDuplicateWindowMs),
    description: 'activity-core inbound domain events',
    ...(feed
      ? {
          sources: [
            {
              name: t.tasks.stream,
              subject_transforms: [
                {
                  src: `${t.tasks.subjectPrefix}*.*`,
                  dest: `${t.events.subjectPrefix}activitycore.task.{{wildcard(1)}}.{{wildcard(2)}}`,
                },
              ],
            },
          ],
        }
      : {}),
  } as StreamConfig;
  // The tasks stream comes first: the events stream sources it.
  return [
    {
      ...base,
      name: t.tasks.stream,
      subjects: [...t.tasks.subjects],
      max_age: nanos(limits.tasksMaxAgeMs),
      duplicate_window: nanos(limits.tasksDuplicateWindowMs),
      description: 'activity-core task lifecycle events (created, completed, cancelled, expired)',
    } as StreamConfig,
    {
      ...base,
      name: t.dlq.stream,
      subjects: [...t.dlq.subjects],
      max_age: nanos(limits.dlqMaxAgeMs),
      duplicate_window: nanos(2 * 60 * 1000),
      description: 'activity-core dead letters: events that could not be processed, with the reason in headers',
    } as StreamConfig,
    events,
    {
      ...base,
      name: t.advisories.stream,
      subjects: [...t.advisories.subjects],
      max_age: nanos(limits.dlqMaxAgeMs),
      description: 'MAX_DELIVERIES advisories of the events stream, kept until ingest has dead-lettered their messages',
    } as StreamConfig,
  ];
}

/**
 * Creates the streams, or updates them to the wanted config. Safe to run from several
 * processes at once: a lost creation race becomes an update.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  t: Topology,
  limits?: StreamLimits,
  options?: StreamOptions,
): Promise<void> {
  for (const config of streamConfigs(t, limits, options)) {
    const exists = await jsm.streams.info(config.name).then(
      () => true,
      () => false,
    );
    if (exists) {
      await jsm.streams.update(config.name, config);
      continue;
    }
    try {
      await jsm.streams.add(config);
    } catch (error) {
      if (!/already in use|already exists/i.test(String(error))) throw error;
      await jsm.streams.update(config.name, config);
    }
  }
}
