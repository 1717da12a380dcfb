import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type ActivityCoreClient, createActivityCoreClient } from '@activity-core/client';
import { ActivityDefinitionSpec } from '@activity-core/core';
import {
  createDb,
  createDefinition,
  type Db,
  listRuns,
  listTasks,
  migrateToLatest,
  setDefinitionEnabled,
} from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import { scheduleIdFor } from '@activity-core/schedules';
import { freePort, REPO_ROOT } from '@activity-core/stack';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, stackInfo, type TestDatabase, uniqueId } from '../support/stack.ts';

// The whole system as separate processes, the way `npm start` runs it: worker, ingest and
// api services over the shared test stack, with their own database, stream prefix and
// task queue. A producer publishes plain JSON to NATS; tasks come out on NATS.
const TOKEN = 'e2e-admin-token-0123456789abcdef';
const MAX_DEPTH = 3;
const children: Array<{ name: string; process: ChildProcess; output: string[] }> = [];
let database: TestDatabase;
let db: Db;
let nc: NatsConnection;
let ac: ActivityCoreClient;
let env: NodeJS.ProcessEnv;
const prefix = uniqueId('E');
const t = topology(prefix);
const SCHEDULE_PREFIX = `${prefix.toLowerCase()}-def-`;

async function startService(name: 'worker' | 'ingest' | 'api', port: number): Promise<void> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'services', name, 'src', 'main.ts')], {
    env: { ...env, [`AC_${name.toUpperCase()}_PORT`]: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { name, process: child, output: [] as string[] };
  children.push(entry);
  child.stdout?.on('data', (c: Buffer) => entry.output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => entry.output.push(c.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${entry.output.join('')}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready:\n${entry.output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const logs = children.map((c) => `--- ${c.name}\n${c.output.join('').slice(-3000)}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** NATS headers from the record the cloudevents SDK's HTTP binding produces. */
function natsHeadersOf(record: Record<string, unknown>) {
  const out = natsHeaders();
  for (const [k, v] of Object.entries(record)) if (v !== undefined) out.set(k, String(v));
  return out;
}

async function streamSubjects(stream: string): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const out: string[] = [];
  for await (const m of await consumer.fetch({ max_messages: info.state.messages, expires: 5_000 })) {
    out.push(m.subject);
    if (out.length >= info.state.messages) break;
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

beforeAll(async () => {
  const info = stackInfo();
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolMax: 4 });
  await migrateToLatest(db);
  nc = await connect({ servers: info.natsUrl });
  env = {
    ...process.env,
    DATABASE_URL: database.url,
    NATS_URL: info.natsUrl,
    TEMPORAL_ADDRESS: info.temporalAddress,
    TEMPORAL_NAMESPACE: info.temporalNamespace,
    TEMPORAL_TASK_QUEUE: uniqueId('tq-'),
    AC_STREAM_PREFIX: prefix,
    AC_API_TOKEN: TOKEN,
    AC_MAX_CAUSATION_DEPTH: String(MAX_DEPTH),
    AC_SCHEDULE_ID_PREFIX: SCHEDULE_PREFIX,
    AC_OUTBOX_POLL_MS: '100',
    LOG_LEVEL: 'warn',
  };
  const apiPort = await freePort();
  await Promise.all([startService('worker', await freePort()), startService('api', apiPort)]);
  ac = createActivityCoreClient({ url: `http://127.0.0.1:${apiPort}/trpc`, token: TOKEN });
});

afterAll(async () => {
  for (const c of children) c.process.kill('SIGTERM');
  await Promise.all(
    children.map((c) => (c.process.exitCode !== null ? undefined : new Promise((r) => c.process.once('exit', r)))),
  );
  const jsm = await jetstreamManager(nc);
  for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream]) await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
  await db.destroy();
  await database.drop();
});

describe('the whole system', () => {
  test('event in on NATS → tasks in PostgreSQL and out on NATS; task events trigger definitions; loops stop at the depth limit', async () => {
    const orders = await ac.definitions.create.mutate({
      spec: {
        key: uniqueId('orders-'),
        name: 'Review order lines',
        trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
        taskTemplates: [{ key: 'line', forEach: 'event.data.lines', title: 'Check {{ item }} of {{ event.data.id }}' }],
      },
    });
    const followUp = await ac.definitions.create.mutate({
      spec: {
        key: uniqueId('follow-'),
        name: 'Follow up every order-line task',
        trigger: {
          kind: 'event',
          event: { types: ['activitycore.task.created'], filter: `event.data.definitionKey == '${orders.key}'` },
        },
        taskTemplates: [{ key: 'follow', title: 'Follow up {{ event.data.title }}' }],
      },
    });
    const looping = await ac.definitions.create.mutate({
      spec: {
        key: uniqueId('loop-'),
        name: 'Triggers itself',
        trigger: {
          kind: 'event',
          event: { types: ['activitycore.task.created'], filter: `event.data.definitionKey == '${uniqueId('x')}'` },
        },
        taskTemplates: [{ key: 'again', title: 'Again' }],
      },
    });
    // Make the loop definition trigger on its own task events (its key is known now).
    await ac.definitions.update.mutate({
      id: looping.id,
      expectedVersion: 1,
      spec: {
        key: looping.key,
        name: 'Triggers itself',
        trigger: {
          kind: 'event',
          event: { types: ['activitycore.task.created'], filter: `event.data.definitionKey == '${looping.key}'` },
        },
        taskTemplates: [{ key: 'again', title: 'Again' }],
      },
    });
    // Ingest starts after the definitions exist, so its first load sees them all.
    await startService('ingest', await freePort());

    // A producer with nothing but a NATS client: plain JSON; type from the subject, id from Nats-Msg-Id.
    const js = jetstream(nc);
    await js.publish(
      `${t.events.subjectPrefix}order.created`,
      JSON.stringify({ id: 'o-42', total: 250, lines: ['a', 'b'] }),
      {
        msgID: 'order-o-42',
      },
    );
    await js.publish(`${t.events.subjectPrefix}order.created`, JSON.stringify({ id: 'o-43', total: 5, lines: ['c'] }), {
      msgID: 'order-o-43',
    });
    // The same kind of event as CloudEvents made by the official SDK, structured and binary.
    const structured = HTTP.structured(
      new CloudEvent({
        source: 'urn:shop',
        type: 'order.created',
        id: 'o-44',
        data: { id: 'o-44', total: 120, lines: ['d'] },
      }),
    );
    await js.publish(`${t.events.subjectPrefix}order.created`, structured.body as string, {
      headers: natsHeadersOf(structured.headers),
    });
    const binary = HTTP.binary(
      new CloudEvent({
        source: 'urn:shop',
        type: 'order.created',
        id: 'o-45',
        datacontenttype: 'application/json',
        data: { id: 'o-45', total: 130, lines: ['e'] },
      }),
    );
    await js.publish(`${t.events.subjectPrefix}order.created`, binary.body as string, {
      headers: natsHeadersOf(binary.headers),
    });
    await ac.runs.trigger.mutate({ definitionId: looping.id, idempotencyKey: 'seed' });

    const orderTasks = await waitFor('four order-line tasks', async () => {
      const items = (await listTasks(db, { definitionId: orders.id })).items;
      return items.length === 4 ? items : undefined;
    });
    expect(orderTasks.map((task) => task.title).sort()).toEqual([
      'Check a of o-42',
      'Check b of o-42',
      'Check d of o-44',
      'Check e of o-45',
    ]);
    const followTasks = await waitFor('a follow-up task per order-line task', async () => {
      const items = (await listTasks(db, { definitionId: followUp.id })).items;
      return items.length === 4 ? items : undefined;
    });
    expect(followTasks.map((task) => task.title).sort()).toEqual([
      'Follow up Check a of o-42',
      'Follow up Check b of o-42',
      'Follow up Check d of o-44',
      'Follow up Check e of o-45',
    ]);

    // The loop: manual run (depth 0) → task event depth 1 → run → depth 2 → run → depth 3: refused.
    const dead = await waitFor('the loop to reach the depth limit', async () => {
      const subjects = await streamSubjects(t.dlq.stream);
      return subjects.length > 0 ? subjects : undefined;
    });
    expect(dead).toEqual([`${t.dlq.subjectPrefix}activitycore.task.created.${looping.key}`]);
    const dlq = await (await jetstreamManager(nc)).streams.getMessage(t.dlq.stream, { seq: 1 });
    expect(dlq?.header.get('Ac-Dlq-Reason')).toBe('max_depth');
    const loopRuns = (await listRuns(db, { definitionId: looping.id })).items;
    expect(loopRuns).toHaveLength(MAX_DEPTH);
    expect((await listTasks(db, { definitionId: looping.id })).items).toHaveLength(MAX_DEPTH);

    // Every task went out on NATS exactly once.
    await waitFor('all task events published', async () => {
      const subjects = await streamSubjects(t.tasks.stream);
      return subjects.length === 4 + 4 + MAX_DEPTH ? subjects : undefined;
    });
    const published = await streamSubjects(t.tasks.stream);
    expect(published.filter((s) => s === `${t.tasks.subjectPrefix}created.${orders.key}`)).toHaveLength(4);
    expect(published.filter((s) => s === `${t.tasks.subjectPrefix}created.${followUp.key}`)).toHaveLength(4);
    // The small order did not match the filter: acked, no run.
    expect((await listRuns(db, { definitionId: orders.id })).items).toHaveLength(3);
  });

  test('the worker keeps Schedules in line with definitions written without the API', async () => {
    const info = stackInfo();
    const connection = await Connection.connect({ address: info.temporalAddress });
    try {
      const client = new Client({ connection, namespace: info.temporalNamespace });
      const definition = await createDefinition(db, {
        spec: ActivityDefinitionSpec.parse({
          key: uniqueId('direct-'),
          name: 'written with SQL',
          trigger: { kind: 'cron', cron: { expression: '0 3 * * *', timezone: 'UTC' } },
          taskTemplates: [{ key: 'x', title: 'x' }],
        }),
      });
      const handle = client.schedule.getHandle(scheduleIdFor(definition.id, SCHEDULE_PREFIX));
      const describe = () =>
        handle.describe().catch((e: unknown) => (e instanceof ScheduleNotFoundError ? undefined : Promise.reject(e)));
      // NOTIFY reaches the worker's listener; well inside the periodic pass's minute.
      await waitFor('the schedule to be created', describe, 10_000);
      await setDefinitionEnabled(db, definition.id, false);
      await waitFor('the schedule to be paused', async () => (await describe())?.state.paused === true, 10_000);
    } finally {
      await connection.close();
    }
  });
});
