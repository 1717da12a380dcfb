import type { ActivityCoreClient } from '@activity-core/client';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition, type Db, listRuns, listTasks, setDefinitionEnabled } from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import { scheduleIdFor } from '@activity-core/schedules';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { storedMessages } from '../support/nats.ts';
import { type ServiceStack, startServiceStack } from '../support/services.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { outlasting, PROCESS_START_MS, WAIT_MS, waitFor } from '../support/wait.ts';

// The whole system as separate processes, the way `npm start` runs it: worker, ingest and
// api services over the shared test stack, with their own database, stream prefix and
// task queue. A producer publishes plain JSON to NATS; tasks come out on NATS.
const TOKEN = 'e2e-admin-token-0123456789abcdef';
const MAX_DEPTH = 3;
let stack: ServiceStack;
let db: Db;
let nc: NatsConnection;
let ac: ActivityCoreClient;
const prefix = uniqueId('E');
const t = topology(prefix);
const SCHEDULE_PREFIX = `${prefix.toLowerCase()}-def-`;
/** A chain across the three processes (NATS in, runs, tasks, outbox, NATS out, sourcing back). */
const CHAIN_WAIT_MS = 60_000;

/** NATS headers from the record the cloudevents SDK's HTTP binding produces. */
function natsHeadersOf(record: Record<string, unknown>) {
  const out = natsHeaders();
  for (const [k, v] of Object.entries(record)) if (v !== undefined) out.set(k, String(v));
  return out;
}

async function streamSubjects(stream: string): Promise<string[]> {
  return (await storedMessages(await jetstreamManager(nc), stream)).map((m) => m.subject);
}

beforeAll(async () => {
  stack = await startServiceStack({
    prefix,
    token: TOKEN,
    poolMax: 4,
    env: {
      AC_MAX_CAUSATION_DEPTH: String(MAX_DEPTH),
      AC_SCHEDULE_ID_PREFIX: SCHEDULE_PREFIX,
      // Longer than any wait here: a Schedule that follows a definition in time came through NOTIFY.
      AC_SCHEDULE_RECONCILE_INTERVAL_MS: String(10 * 60_000),
      // The output is kept in memory and shown on failure.
      LOG_LEVEL: 'info',
    },
  });
  ({ db, nc } = stack);
  await stack.start('worker', 'api');
  ac = stack.client();
});

afterAll(async () => {
  await stack?.stop();
});

describe('the whole system', () => {
  test(
    'event in on NATS → tasks in PostgreSQL and out on NATS; task events trigger definitions; loops stop at the depth limit',
    async () => {
      const orders = await ac.definitions.create.mutate({
        spec: {
          key: uniqueId('orders-'),
          name: 'Review order lines',
          trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
          taskTemplates: [
            { key: 'line', forEach: 'event.data.lines', title: 'Check {{ item }} of {{ event.data.id }}' },
          ],
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
      await stack.start('ingest');

      // A producer with nothing but a NATS client: plain JSON; type from the subject, id from Nats-Msg-Id.
      const js = jetstream(nc);
      await js.publish(
        `${t.events.subjectPrefix}order.created`,
        JSON.stringify({ id: 'o-42', total: 250, lines: ['a', 'b'] }),
        {
          msgID: 'order-o-42',
        },
      );
      await js.publish(
        `${t.events.subjectPrefix}order.created`,
        JSON.stringify({ id: 'o-43', total: 5, lines: ['c'] }),
        {
          msgID: 'order-o-43',
        },
      );
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

      const orderTasks = await waitFor(async () => (await listTasks(db, { definitionId: orders.id })).items, {
        what: `four order-line tasks of definition ${orders.key}`,
        until: (items) => items.length === 4,
        timeoutMs: CHAIN_WAIT_MS,
        context: () => stack.logs(),
      });
      expect(orderTasks.map((task) => task.title).sort()).toEqual([
        'Check a of o-42',
        'Check b of o-42',
        'Check d of o-44',
        'Check e of o-45',
      ]);
      const followTasks = await waitFor(async () => (await listTasks(db, { definitionId: followUp.id })).items, {
        what: `a follow-up task (definition ${followUp.key}) per order-line task`,
        until: (items) => items.length === 4,
        timeoutMs: CHAIN_WAIT_MS,
        context: () => stack.logs(),
      });
      expect(followTasks.map((task) => task.title).sort()).toEqual([
        'Follow up Check a of o-42',
        'Follow up Check b of o-42',
        'Follow up Check d of o-44',
        'Follow up Check e of o-45',
      ]);

      // The loop: manual run (depth 0) → task event depth 1 → run → depth 2 → run → depth 3: refused.
      const dead = await waitFor(() => streamSubjects(t.dlq.stream), {
        what: `the loop of definition ${looping.key} to reach depth ${MAX_DEPTH} and its event in ${t.dlq.stream}`,
        until: (subjects) => subjects.length > 0,
        timeoutMs: CHAIN_WAIT_MS,
        context: () => stack.logs(),
      });
      expect(dead).toEqual([`${t.dlq.subjectPrefix}activitycore.task.created.${looping.key}`]);
      const dlq = await (await jetstreamManager(nc)).streams.getMessage(t.dlq.stream, { seq: 1 });
      expect(dlq?.header.get('Ac-Dlq-Reason')).toBe('max_depth');
      const loopRuns = (await listRuns(db, { definitionId: looping.id })).items;
      expect(loopRuns).toHaveLength(MAX_DEPTH);
      expect((await listTasks(db, { definitionId: looping.id })).items).toHaveLength(MAX_DEPTH);

      // Every task went out on NATS exactly once.
      await waitFor(() => streamSubjects(t.tasks.stream), {
        what: `all ${4 + 4 + MAX_DEPTH} task events in ${t.tasks.stream}`,
        until: (subjects) => subjects.length === 4 + 4 + MAX_DEPTH,
        timeoutMs: CHAIN_WAIT_MS,
        context: () => stack.logs(),
      });
      const published = await streamSubjects(t.tasks.stream);
      expect(published.filter((s) => s === `${t.tasks.subjectPrefix}created.${orders.key}`)).toHaveLength(4);
      expect(published.filter((s) => s === `${t.tasks.subjectPrefix}created.${followUp.key}`)).toHaveLength(4);
      // The small order did not match the filter: acked, no run.
      expect((await listRuns(db, { definitionId: orders.id })).items).toHaveLength(3);
    },
    outlasting(PROCESS_START_MS, WAIT_MS, CHAIN_WAIT_MS, CHAIN_WAIT_MS, CHAIN_WAIT_MS, CHAIN_WAIT_MS),
  );

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
      // The worker's periodic pass is ten minutes away: only its NOTIFY listener can do this.
      const scheduleId = scheduleIdFor(definition.id, SCHEDULE_PREFIX);
      await waitFor(describe, {
        what: `the worker to create Schedule ${scheduleId}`,
        context: () => stack.logs('worker'),
      });
      await setDefinitionEnabled(db, definition.id, false);
      await waitFor(async () => (await describe())?.state.paused, {
        what: `the worker to pause Schedule ${scheduleId}`,
        until: (paused) => paused === true,
        context: () => stack.logs('worker'),
      });
    } finally {
      await connection.close();
    }
  });
});
