import { fileURLToPath } from 'node:url';
import { silentTemporalLogger } from '@activity-core/runtime';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { createTestDatabase, stackInfo, uniqueId } from '../support/stack.ts';
import { within } from '../support/wait.ts';
import * as activities from './echo.activities.ts';

// These prove the stack is real: each talks to a live server over loopback.
describe('local stack', () => {
  test('Temporal: a workflow runs on a worker and returns through an activity', async () => {
    const info = stackInfo();
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./echo.workflow.ts', import.meta.url)),
      logger: silentTemporalLogger,
    });
    const taskQueue = uniqueId('smoke-');
    const nativeConnection = await NativeConnection.connect({ address: info.temporalAddress });
    const connection = await Connection.connect({ address: info.temporalAddress });
    try {
      const worker = await Worker.create({
        connection: nativeConnection,
        namespace: info.temporalNamespace,
        taskQueue,
        workflowBundle,
        activities,
      });
      const client = new Client({ connection, namespace: info.temporalNamespace });
      const workflowId = uniqueId('echo-');
      const result = await within(
        worker.runUntil(client.workflow.execute('echo', { taskQueue, workflowId, args: ['hello'] })),
        { what: `workflow ${workflowId} to return through its activity` },
      );
      expect(result).toBe('HELLO');
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  });

  test('JetStream: publish, durable pull consume, ack', async () => {
    const nc = await connect({ servers: stackInfo().natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = uniqueId('SMOKE_');
      const subject = `${stream.toLowerCase()}.hello`;
      await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
      const js = jetstream(nc);
      const ack = await js.publish(subject, JSON.stringify({ n: 1 }), { msgID: 'smoke-1' });
      expect(ack.seq).toBe(1);
      const duplicate = await js.publish(subject, JSON.stringify({ n: 1 }), { msgID: 'smoke-1' });
      expect(duplicate.duplicate).toBe(true);
      await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: 'explicit' });
      const consumer = await js.consumers.get(stream, 'smoke');
      const message = await consumer.next({ expires: 5000 });
      expect(message?.json()).toEqual({ n: 1 });
      expect(await message?.ackAck()).toBe(true);
      const info = await consumer.info();
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_pending).toBe(0);
      await jsm.streams.delete(stream);
    } finally {
      await nc.close();
    }
  });

  test('PostgreSQL: a fresh database accepts DDL and queries', async () => {
    await using database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('create table smoke (id int primary key, note text not null)');
      await client.query("insert into smoke values (1, 'real')");
      const { rows } = await client.query<{ note: string; version: string }>(
        'select note, current_setting($1) as version from smoke',
        ['server_version_num'],
      );
      expect(rows[0]?.note).toBe('real');
      expect(Number(rows[0]?.version)).toBeGreaterThanOrEqual(180000);
    } finally {
      await client.end();
    }
  });
});
