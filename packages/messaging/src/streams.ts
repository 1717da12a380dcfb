import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { isAlreadyExists, JsApiCode, jsApiCode } from './jetstream-errors.ts';
import { PUBLISH_RETRY_HORIZON_MS, retryingSetup } from './publish.ts';
import type { Topology } from './topology.ts';

/**
 * How the contract streams are stored and kept. Every field comes from an `AC_STREAM_*` /
 * `AC_{EVENTS,TASKS,DLQ}_*` variable (`streamLimitsFrom`); the defaults suit one nats-server.
 */
export interface StreamLimits {
  /** Copies of each stream (and of the ingest consumers) in a cluster: 1, 3 or 5. */
  readonly replicas: number;
  /** `file` survives a server restart; `memory` does not. Cannot be changed in place. */
  readonly storage: 'file' | 'memory';
  /** What a stream does at `maxBytes`: drop its oldest messages, or refuse new ones. */
  readonly discard: 'old' | 'new';
  /** Size cap of each stream in bytes; -1 = none (only the age limits apply). */
  readonly maxBytes: number;
  /** How long inbound events are kept (they are acked long before). */
  readonly eventsMaxAgeMs: number;
  /** How long dead letters (and unhandled max-deliveries advisories) are kept for an operator. */
  readonly dlqMaxAgeMs: number;
  readonly tasksMaxAgeMs: number;
  /** De-duplication window of the task stream; the outbox relay's retries must fall in it. */
  readonly tasksDuplicateWindowMs: number;
  /** De-duplication window of the events stream; `events.publish` retries fall in it. */
  readonly eventsDuplicateWindowMs: number;
  /** De-duplication window of the DLQ; ingest's dead-letter retries fall in it. */
  readonly dlqDuplicateWindowMs: number;
}

const DAY = 24 * 60 * 60 * 1000;
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  replicas: 1,
  storage: 'file',
  discard: 'old',
  maxBytes: -1,
  eventsMaxAgeMs: 7 * DAY,
  dlqMaxAgeMs: 30 * DAY,
  tasksMaxAgeMs: 7 * DAY,
  tasksDuplicateWindowMs: 60 * 60 * 1000,
  eventsDuplicateWindowMs: 10 * 60 * 1000,
  dlqDuplicateWindowMs: 2 * 60 * 1000,
};

/** The variables `streamLimitsFrom` reads (`SharedEnv` of @activity-core/runtime). */
export interface StreamEnv {
  readonly AC_STREAM_REPLICAS: number;
  readonly AC_STREAM_STORAGE: 'file' | 'memory';
  readonly AC_STREAM_DISCARD: 'old' | 'new';
  readonly AC_STREAM_MAX_BYTES: number;
  readonly AC_EVENTS_MAX_AGE_MS: number;
  readonly AC_TASKS_MAX_AGE_MS: number;
  readonly AC_DLQ_MAX_AGE_MS: number;
  readonly AC_EVENTS_DUPLICATE_WINDOW_MS: number;
  readonly AC_TASKS_DUPLICATE_WINDOW_MS: number;
  readonly AC_DLQ_DUPLICATE_WINDOW_MS: number;
}

export const StreamErrorCode = {
  /** The variables contradict each other (or NATS' rules), before any server is asked. */
  settings_invalid: 'settings_invalid',
  /** An existing stream differs in a field NATS cannot change in place. */
  not_updatable: 'not_updatable',
  /** The server refused to create or update a stream/consumer with the wanted settings. */
  refused: 'refused',
} as const;
export type StreamErrorCode = keyof typeof StreamErrorCode;

/** A stream or consumer cannot have the configured settings; the message says what to do. */
export class StreamSettingsError extends Error {
  readonly code: StreamErrorCode;
  constructor(code: StreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamSettingsError';
    this.code = code;
  }
}

/** Stream settings from a service's parsed config; throws `settings_invalid` naming the variables. */
export function streamLimitsFrom(env: StreamEnv): StreamLimits {
  const limits: StreamLimits = {
    replicas: env.AC_STREAM_REPLICAS,
    storage: env.AC_STREAM_STORAGE,
    discard: env.AC_STREAM_DISCARD,
    maxBytes: env.AC_STREAM_MAX_BYTES,
    eventsMaxAgeMs: env.AC_EVENTS_MAX_AGE_MS,
    tasksMaxAgeMs: env.AC_TASKS_MAX_AGE_MS,
    dlqMaxAgeMs: env.AC_DLQ_MAX_AGE_MS,
    eventsDuplicateWindowMs: env.AC_EVENTS_DUPLICATE_WINDOW_MS,
    tasksDuplicateWindowMs: env.AC_TASKS_DUPLICATE_WINDOW_MS,
    dlqDuplicateWindowMs: env.AC_DLQ_DUPLICATE_WINDOW_MS,
  };
  const problems: string[] = [];
  if (![1, 3, 5].includes(limits.replicas)) {
    // NATS accepts 1-5; an even count tolerates no more failures than the odd one below it.
    problems.push(`AC_STREAM_REPLICAS: must be 1, 3 or 5 (got ${limits.replicas})`);
  }
  if (limits.maxBytes !== -1 && limits.maxBytes < 1) {
    problems.push(`AC_STREAM_MAX_BYTES: must be -1 (no cap) or a positive byte count (got ${limits.maxBytes})`);
  }
  // NATS refuses a duplicate window longer than the stream keeps its messages.
  for (const [stream, window, age] of [
    ['EVENTS', limits.eventsDuplicateWindowMs, limits.eventsMaxAgeMs],
    ['TASKS', limits.tasksDuplicateWindowMs, limits.tasksMaxAgeMs],
    ['DLQ', limits.dlqDuplicateWindowMs, limits.dlqMaxAgeMs],
  ] as const) {
    if (window > age) {
      problems.push(`AC_${stream}_DUPLICATE_WINDOW_MS: must not exceed AC_${stream}_MAX_AGE_MS (${age})`);
    }
  }
  // A publish retried after its window would be stored twice if the first attempt was stored.
  for (const [stream, window] of [
    ['EVENTS', limits.eventsDuplicateWindowMs],
    ['DLQ', limits.dlqDuplicateWindowMs],
  ] as const) {
    if (window < PUBLISH_RETRY_HORIZON_MS) {
      problems.push(
        `AC_${stream}_DUPLICATE_WINDOW_MS: must cover the publish retries (at least ${PUBLISH_RETRY_HORIZON_MS} ms)`,
      );
    }
  }
  if (problems.length > 0) {
    throw new StreamSettingsError('settings_invalid', `invalid stream settings:\n  ${problems.join('\n  ')}`);
  }
  return limits;
}

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
  const base = {
    storage: limits.storage === 'memory' ? StorageType.Memory : StorageType.File,
    retention: RetentionPolicy.Limits,
    num_replicas: limits.replicas,
    discard: limits.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
    max_bytes: limits.maxBytes,
  } as const;
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
      duplicate_window: nanos(limits.dlqDuplicateWindowMs),
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
 * Fields of an existing stream that differ from the wanted config and that NATS cannot change
 * in place (everything else — replicas, ages, windows, discard, size cap, subjects, sources —
 * is updated). Each entry says what to do instead.
 */
export function fieldsNotUpdatable(
  current: Pick<StreamConfig, 'name' | 'storage' | 'retention'>,
  wanted: Pick<StreamConfig, 'storage' | 'retention'>,
): string[] {
  const out: string[] = [];
  if (current.storage !== wanted.storage) {
    out.push(
      `storage is ${current.storage}, AC_STREAM_STORAGE asks for ${wanted.storage}: NATS cannot change a stream's storage. ` +
        `Set AC_STREAM_STORAGE=${current.storage} to keep the stream, or move it: stop the services, ` +
        `\`nats stream backup ${current.name}\`, delete the stream, start with the new storage and restore.`,
    );
  }
  if (current.retention !== wanted.retention) {
    out.push(
      `retention is ${current.retention}, activity-core needs ${wanted.retention}: the stream was not created by activity-core; ` +
        'delete or rename it (or set AC_STREAM_PREFIX to use other streams).',
    );
  }
  return out;
}

/** Names the variable to look at when the server refuses a stream or consumer config. */
export function refusalHint(error: unknown, replicas: number): string {
  switch (jsApiCode(error)) {
    case JsApiCode.replicasNotSupported:
      return `AC_STREAM_REPLICAS=${replicas} needs a JetStream cluster; this server is not clustered (set AC_STREAM_REPLICAS=1)`;
    case JsApiCode.insufficientResources:
    case JsApiCode.clusterNoPeers:
      return `AC_STREAM_REPLICAS=${replicas} needs that many JetStream servers up in the cluster (with room for the stream)`;
    case JsApiCode.streamInvalidConfig:
      return 'check the AC_*_DUPLICATE_WINDOW_MS and AC_*_MAX_AGE_MS variables';
    default:
      return 'check the AC_STREAM_* / AC_*_MAX_AGE_MS / AC_*_DUPLICATE_WINDOW_MS variables';
  }
}

async function refusedAs<T>(what: string, replicas: number, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof StreamSettingsError) throw error;
    if (isAlreadyExists(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new StreamSettingsError(
      'refused',
      `${what}: the server refused it (${message}); ${refusalHint(error, replicas)}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Creates the streams, or updates them to the wanted config. Safe to run from several
 * processes at once: a lost creation race becomes an update. A step that times out or finds no
 * leader (a cluster still electing) is tried again for up to a minute ({@link retryingSetup}).
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  t: Topology,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  options?: StreamOptions,
): Promise<void> {
  for (const config of streamConfigs(t, limits, options)) {
    await retryingSetup(
      () => ensureStream(jsm, config, limits),
      (error) => (error instanceof StreamSettingsError && error.code === 'refused' ? error.cause : error),
    );
  }
}

/** Creates one stream or updates it to `config`; one attempt. */
async function ensureStream(jsm: JetStreamManager, config: StreamConfig, limits: StreamLimits): Promise<void> {
  const update = async (current: StreamInfo): Promise<void> => {
    const blocked = fieldsNotUpdatable(current.config, config);
    if (blocked.length > 0) {
      throw new StreamSettingsError('not_updatable', `stream ${config.name}: ${blocked.join(' ')}`);
    }
    await refusedAs(`updating stream ${config.name}`, limits.replicas, () => jsm.streams.update(config.name, config));
  };
  const current = await jsm.streams.info(config.name).catch(() => null);
  if (current) {
    await update(current);
    return;
  }
  try {
    await refusedAs(`creating stream ${config.name}`, limits.replicas, () => jsm.streams.add(config));
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    await update(await jsm.streams.info(config.name));
  }
}
