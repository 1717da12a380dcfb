import { insertRunOrGet, insertTaskIfAbsent, transitionTask } from '@activity-core/db';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stackInfo } from '../support/stack.ts';
import { BOOTSTRAP_TOKEN, cronSpec, eventsTopology, rawCall, startTestApi, type TestApi } from './support.ts';

let api: TestApi;
let connection: Connection;
let temporal: Client;
beforeAll(async () => {
  api = await startTestApi();
  connection = await Connection.connect({ address: stackInfo().temporalAddress });
  temporal = new Client({ connection, namespace: stackInfo().temporalNamespace });
});
afterAll(async () => {
  await connection?.close();
  await api?.[Symbol.asyncDispose]();
});

describe('runs', () => {
  test('trigger starts RunActivityWorkflow once per idempotency key', async () => {
    const client = api.client();
    const definition = await client.definitions.create.mutate({ spec: cronSpec('manual-run') });
    const first = await client.runs.trigger.mutate({
      definitionId: definition.id,
      idempotencyKey: 'k-1',
      payload: { a: 1 },
    });
    expect(first).toEqual({
      workflowId: `run:${definition.id}:manual:k-1`,
      started: true,
      idempotencyKey: 'k-1',
      definitionVersion: 1,
    });
    const again = await client.runs.trigger.mutate({ definitionId: definition.id, idempotencyKey: 'k-1' });
    expect(again.started).toBe(false);
    const handle = temporal.workflow.getHandle(first.workflowId);
    const description = await handle.describe();
    expect(description.type).toBe('RunActivityWorkflow');
    expect(description.taskQueue).toBe(api.taskQueue);
    await handle.terminate('test over');

    const archived = await client.definitions.archive.mutate({ id: definition.id });
    const refused = await rawCall(
      api.trpcUrl,
      'runs.trigger',
      'mutation',
      { definitionId: archived.id },
      BOOTSTRAP_TOKEN,
    );
    expect(refused.status).toBe(409);
  });

  test('list, get and logs read the runs table with filters', async () => {
    const client = api.client();
    const definition = await client.definitions.create.mutate({ spec: cronSpec('run-reads') });
    const { run } = await insertRunOrGet(api.db, {
      definitionId: definition.id,
      definitionVersion: 1,
      triggerKind: 'manual',
      triggerKey: 'manual:x',
      workflowId: `run:${definition.id}:manual:x`,
    });
    const listed = await client.runs.list.query({ definitionId: definition.id, status: ['pending'] });
    expect(listed.items.map((r) => r.id)).toEqual([run.id]);
    expect((await client.runs.list.query({ definitionId: definition.id, status: 'succeeded' })).items).toEqual([]);
    expect((await client.runs.list.query({ createdFrom: '2999-01-01T00:00:00Z' })).items).toEqual([]);
    expect(await client.runs.get.query({ id: run.id })).toMatchObject({
      id: run.id,
      status: 'pending',
      triggerKind: 'manual',
    });
    expect((await client.runs.logs.query({ runId: run.id })).items).toEqual([]);
    expect((await client.runs.logs.query({ definitionId: definition.id })).items).toEqual([]);
  });
});

describe('tasks', () => {
  test('unknown id is NOT_FOUND; completing or cancelling a finished task is CONFLICT', async () => {
    const client = api.client();
    const definition = await client.definitions.create.mutate({ spec: cronSpec('task-acts') });
    const { run } = await insertRunOrGet(api.db, {
      definitionId: definition.id,
      definitionVersion: 1,
      triggerKind: 'manual',
      triggerKey: 'manual:t',
      workflowId: `run:${definition.id}:manual:t`,
    });
    const { task } = await insertTaskIfAbsent(api.db, {
      runId: run.id,
      definitionId: definition.id,
      definitionKey: 'task-acts',
      definitionVersion: 1,
      templateKey: 'standup',
      index: 0,
      idempotencyKey: `task:${run.workflowId}:standup:0`,
      title: 'Stand-up',
      labels: ['team-a', 'daily'],
    });
    const listed = await client.tasks.list.query({ labels: ['daily'], status: 'open' });
    expect(listed.items.map((t) => t.id)).toEqual([task.id]);
    expect((await client.tasks.list.query({ labels: ['nope'] })).items).toEqual([]);
    expect(await client.tasks.get.query({ id: task.id })).toMatchObject({
      title: 'Stand-up',
      status: 'open',
      labels: ['team-a', 'daily'],
    });

    const unknown = await rawCall(
      api.trpcUrl,
      'tasks.complete',
      'mutation',
      { id: '0190f5f4-0000-7000-8000-000000000001' },
      BOOTSTRAP_TOKEN,
    );
    expect(unknown.status).toBe(404);
    // Open in the table but no workflow holds it: the workflow helper says NOT_FOUND.
    const orphan = await rawCall(api.trpcUrl, 'tasks.cancel', 'mutation', { id: task.id }, BOOTSTRAP_TOKEN);
    expect(orphan.status).toBe(404);

    await transitionTask(api.db, { id: task.id, to: 'completed', by: 'someone' });
    for (const path of ['tasks.complete', 'tasks.cancel']) {
      const finished = await rawCall(api.trpcUrl, path, 'mutation', { id: task.id }, BOOTSTRAP_TOKEN);
      expect(finished.status).toBe(409);
      expect(finished.body.error?.message).toMatch(/already completed/);
    }
  });
});

describe('events', () => {
  test('publish puts a CloudEvent on events.<type> with Nats-Msg-Id = id; a repeat is a duplicate', async () => {
    const client = api.client();
    const event = {
      specversion: '1.0' as const,
      id: 'evt-1',
      source: 'urn:shop',
      type: 'order.created',
      data: { total: 3 },
    };
    const first = await client.events.publish.mutate(event);
    const t = eventsTopology(api.prefix);
    expect(first).toMatchObject({
      subject: `${t.events.subjectPrefix}order.created`,
      stream: t.events.stream,
      duplicate: false,
    });
    const again = await client.events.publish.mutate(event);
    expect(again).toMatchObject({ seq: first.seq, duplicate: true });

    const nc = await connect({ servers: stackInfo().natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(t.events.stream, { seq: first.seq });
      expect(stored?.subject).toBe(first.subject);
      expect(stored?.header.get('Nats-Msg-Id')).toBe('evt-1');
      expect(stored?.json()).toMatchObject({
        specversion: '1.0',
        id: 'evt-1',
        type: 'order.created',
        data: { total: 3 },
      });

      // Redrive: a dead letter goes back to its original subject.
      await jetstream(nc).publish(`${t.dlq.subjectPrefix}order.created`, JSON.stringify({ ...event, id: 'evt-dead' }));
      const redriven = await client.events.redrive.mutate({ subject: 'order.>' });
      expect(redriven).toMatchObject({ redriven: 1, failed: [] });
      expect((await jsm.streams.info(t.dlq.stream)).state.messages).toBe(0);
      expect((await jsm.streams.info(t.events.stream)).state.messages).toBe(2);
    } finally {
      await nc.close();
    }
  });

  test('publish refuses types that cannot be subjects, naming the field', async () => {
    const bad = await rawCall(
      api.trpcUrl,
      'events.publish',
      'mutation',
      { specversion: '1.0', id: 'x', source: 'urn:x', type: 'order.*' },
      BOOTSTRAP_TOKEN,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error?.data.fieldErrors).toEqual([{ path: 'type', message: expect.any(String) }]);
  });
});
