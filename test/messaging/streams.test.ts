import {
  DEFAULT_STREAM_LIMITS,
  ensureStreams,
  StreamSettingsError,
  taskEventSubjectInEvents,
  topology,
} from '@activity-core/messaging';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect, test } from 'vitest';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';

test('ensureStreams creates the contract streams and is safe to run concurrently and again', async () => {
  const nc = await connect({ servers: stackInfo().natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const t = topology(uniqueId('S'));
    await Promise.all([ensureStreams(jsm, t), ensureStreams(jsm, t)]);
    await ensureStreams(jsm, t);
    const events = await jsm.streams.info(t.events.stream);
    expect(events.config.subjects).toEqual([`${t.prefix.toLowerCase()}.events.>`]);
    expect(events.config.storage).toBe('file');
    const dlq = await jsm.streams.info(t.dlq.stream);
    expect(dlq.config.subjects).toEqual([`${t.prefix.toLowerCase()}.dlq.events.>`]);
    const tasks = await jsm.streams.info(t.tasks.stream);
    expect(tasks.config.subjects).toEqual([`${t.prefix.toLowerCase()}.tasks.>`]);
    expect(tasks.config.duplicate_window).toBe(60 * 60 * 1e9);
    const advisories = await jsm.streams.info(t.advisories.stream);
    expect(advisories.config.subjects).toEqual([
      `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${t.prefix.toUpperCase()}_AC_EVENTS.*`,
    ]);
    for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream, t.advisories.stream]) await jsm.streams.delete(s);
  } finally {
    await nc.close();
  }
});

test('the unprefixed topology is the public contract', () => {
  const t = topology();
  expect(t.events).toEqual({ stream: 'AC_EVENTS', subjectPrefix: 'events.', subjects: ['events.>'] });
  expect(t.dlq).toEqual({ stream: 'AC_DLQ', subjectPrefix: 'dlq.events.', subjects: ['dlq.events.>'] });
  expect(t.tasks).toEqual({ stream: 'AC_TASKS', subjectPrefix: 'tasks.', subjects: ['tasks.>'] });
  expect(t.ingestConsumer).toBe('ac-ingest');
  expect(t.advisories).toEqual({
    stream: 'AC_ADVISORIES',
    subjects: ['$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.AC_EVENTS.*'],
  });
});

test('task events are sourced into the events stream under events.activitycore.task.*', async () => {
  const nc = await connect({ servers: stackInfo().natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const t = topology(uniqueId('F'));
    await ensureStreams(jsm, t);
    const js = jetstream(nc);
    await js.publish(
      `${t.tasks.subjectPrefix}created.nightly-sweep`,
      JSON.stringify({ type: 'activitycore.task.created' }),
      {
        msgID: 'outbox-row-1',
      },
    );
    const subject = taskEventSubjectInEvents(t, 'created', 'nightly-sweep');
    expect(subject).toBe(`${t.prefix.toLowerCase()}.events.activitycore.task.created.nightly-sweep`);
    // Sourcing is asynchronous in the server. Before the message arrives a lookup by subject
    // answers "no message found".
    const sourced = await waitFor(() => jsm.streams.getMessage(t.events.stream, { last_by_subj: subject }), {
      what: `the task event sourced into ${t.events.stream} on ${subject}`,
    });
    expect(sourced.subject).toBe(subject);
    for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream]) await jsm.streams.delete(s);
  } finally {
    await nc.close();
  }
});

test('feeding task events into the events stream can be turned off', async () => {
  const nc = await connect({ servers: stackInfo().natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const t = topology(uniqueId('N'));
    await ensureStreams(jsm, t, undefined, { feedTaskEvents: false });
    const events = await jsm.streams.info(t.events.stream);
    expect(events.config.sources ?? []).toEqual([]);
    for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream]) await jsm.streams.delete(s);
  } finally {
    await nc.close();
  }
});

test('changed stream settings are applied in place; a storage change or an impossible replica count is refused by name', async () => {
  const nc = await connect({ servers: stackInfo().natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const t = topology(uniqueId('U'));
    await ensureStreams(jsm, t);
    const js = jetstream(nc);
    await js.publish(`${t.events.subjectPrefix}kept.before.update`, '{}', { msgID: 'kept-1' });

    const changed = {
      ...DEFAULT_STREAM_LIMITS,
      discard: 'new' as const,
      maxBytes: 50_000_000,
      eventsMaxAgeMs: 3_600_000,
      eventsDuplicateWindowMs: 30_000,
      dlqDuplicateWindowMs: 45_000,
    };
    await ensureStreams(jsm, t, changed);
    const events = await jsm.streams.info(t.events.stream);
    expect(events.config).toMatchObject({
      discard: 'new',
      max_bytes: 50_000_000,
      max_age: 3_600_000 * 1e6,
      duplicate_window: 30_000 * 1e6,
    });
    expect(events.state.messages).toBe(1); // updated, not recreated
    expect((await jsm.streams.info(t.dlq.stream)).config.duplicate_window).toBe(45_000 * 1e6);

    const storage = await ensureStreams(jsm, t, { ...changed, storage: 'memory' }).catch((e: unknown) => e);
    expect(storage).toBeInstanceOf(StreamSettingsError);
    expect((storage as StreamSettingsError).code).toBe('not_updatable');
    expect(String(storage)).toMatch(/storage is file, AC_STREAM_STORAGE asks for memory/);
    expect((await jsm.streams.info(t.events.stream)).config.storage).toBe('file');

    // The shared test server is a single node: three replicas cannot be placed.
    const replicas = await ensureStreams(jsm, t, { ...changed, replicas: 3 }).catch((e: unknown) => e);
    expect(replicas).toBeInstanceOf(StreamSettingsError);
    expect((replicas as StreamSettingsError).code).toBe('refused');
    expect(String(replicas)).toMatch(/AC_STREAM_REPLICAS=3 needs a JetStream cluster/);
    expect((await jsm.streams.info(t.tasks.stream)).config.num_replicas).toBe(1);

    for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream, t.advisories.stream]) await jsm.streams.delete(s);
  } finally {
    await nc.close();
  }
});
