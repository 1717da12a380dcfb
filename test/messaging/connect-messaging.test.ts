import {
  connectMessaging,
  type NatsEnv,
  type StreamEnv,
  StreamSettingsError,
  topology,
} from '@activity-core/messaging';
import { silentLogger } from '@activity-core/runtime';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect, test } from 'vitest';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';

function configOf(overrides: Partial<StreamEnv> = {}): NatsEnv & StreamEnv {
  return {
    NATS_URL: stackInfo().natsUrl,
    AC_STREAM_REPLICAS: 1,
    AC_STREAM_STORAGE: 'file',
    AC_STREAM_DISCARD: 'old',
    AC_STREAM_MAX_BYTES: -1,
    AC_EVENTS_MAX_AGE_MS: 3_600_000,
    AC_TASKS_MAX_AGE_MS: 3_600_000,
    AC_DLQ_MAX_AGE_MS: 3_600_000,
    AC_EVENTS_DUPLICATE_WINDOW_MS: 600_000,
    AC_TASKS_DUPLICATE_WINDOW_MS: 600_000,
    AC_DLQ_DUPLICATE_WINDOW_MS: 120_000,
    ...overrides,
  };
}

/** The open client connections of that name, as the server's monitoring endpoint lists them. */
async function openConnections(name: string): Promise<number> {
  const monitor = stackInfo().natsMonitorUrl;
  if (monitor === undefined) throw new Error('the test stack runs nats-server with its monitoring port');
  const response = await fetch(`${monitor}/connz?state=open&limit=1024`);
  const body = (await response.json()) as { connections?: { name?: string }[] };
  return (body.connections ?? []).filter((c) => c.name === name).length;
}

test('connectMessaging connects under its name and creates the streams with the configured limits', async () => {
  const name = uniqueId('messaging-');
  const t = topology(uniqueId('M'));
  const { nc, jsm } = await connectMessaging(configOf({ AC_EVENTS_MAX_AGE_MS: 1_800_000 }), name, silentLogger, t);
  try {
    expect(await openConnections(name)).toBe(1);
    const events = await jsm.streams.info(t.events.stream);
    expect(events.config.max_age).toBe(1_800_000 * 1e6);
    expect((await jsm.streams.info(t.tasks.stream)).config.subjects).toEqual(t.tasks.subjects);
  } finally {
    for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream, t.advisories.stream]) await jsm.streams.delete(s);
    await nc.close();
  }
});

test('connectMessaging closes its connection when the streams cannot be made, and throws the reason', async () => {
  const t = topology(uniqueId('L'));
  const admin = await connect({ servers: stackInfo().natsUrl });
  try {
    const jsm = await jetstreamManager(admin);
    // A file-stored AC_TASKS exists; asking for memory storage is refused (not updatable in place).
    const first = await connectMessaging(configOf(), uniqueId('messaging-'), silentLogger, t);
    await first.nc.close();

    const name = uniqueId('messaging-');
    const failed = await connectMessaging(configOf({ AC_STREAM_STORAGE: 'memory' }), name, silentLogger, t).catch(
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StreamSettingsError);
    expect((failed as StreamSettingsError).code).toBe('not_updatable');
    // The server sees the client's close asynchronously.
    await waitFor(() => openConnections(name), { what: `no open connection named ${name}`, until: (n) => n === 0 });

    for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream, t.advisories.stream]) await jsm.streams.delete(s);
  } finally {
    await admin.close();
  }
});

test('connectMessaging refuses contradicting stream variables before it connects', async () => {
  const name = uniqueId('messaging-');
  const failed = await connectMessaging(
    configOf({ AC_STREAM_REPLICAS: 2 }),
    name,
    silentLogger,
    topology(uniqueId('R')),
  ).catch((e: unknown) => e);
  expect(failed).toBeInstanceOf(StreamSettingsError);
  expect((failed as StreamSettingsError).code).toBe('settings_invalid');
  expect(await openConnections(name)).toBe(0);
});
