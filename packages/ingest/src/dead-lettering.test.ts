import { topology } from '@activity-core/messaging';
import { createLogger } from '@activity-core/runtime';
import type { JetStreamClient, JsMsg, PubAck } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { createDeadLettering } from './dead-lettering.ts';
import { DlqHeader } from './headers.ts';
import { createIngestMetrics } from './metrics.ts';

const t = topology('P');

/** A delivered message that records what was done to it. */
function delivered() {
  const done: string[] = [];
  const message = {
    subject: 'p.events.order.created',
    data: new TextEncoder().encode('{"x":1}'),
    headers: undefined,
    seq: 9,
    info: { stream: t.events.stream, deliveryCount: 2 },
    term: (reason?: string) => void done.push(`term ${reason}`),
  } as unknown as JsMsg;
  return { message, done };
}

/** A JetStream client whose publish records the subject and headers, then resolves or fails. */
function jetStream(fail: boolean, done: string[]) {
  return {
    publish: async (subject: string, _data: Uint8Array, options: { headers: { get(k: string): string } }) => {
      if (fail) throw new Error('no responders');
      done.push(`publish ${subject} ${options.headers.get(DlqHeader.reason)}`);
      return { stream: t.dlq.stream, seq: 1, duplicate: false } as PubAck;
    },
  } as unknown as JetStreamClient;
}

const parking = (fail: boolean, done: string[]) =>
  createDeadLettering({
    js: jetStream(fail, done),
    topology: t,
    logger: createLogger({ level: 'error' }),
    metrics: createIngestMetrics(new Registry()),
    maxPayload: () => 1024 * 1024,
  });

describe('dead-lettering a delivered message', () => {
  test('stores the dead letter first and terminates the original only then', async () => {
    const { message, done } = delivered();
    await expect(parking(false, done).park(message, { reason: 'invalid_json', message: 'bad' })).resolves.toBe(true);
    expect(done).toEqual(['publish p.dlq.events.order.created invalid_json', 'term invalid_json']);
  });

  test('leaves the original untouched when the store fails, so it is redelivered', async () => {
    const { message, done } = delivered();
    await expect(parking(true, done).park(message, { reason: 'max_depth', message: 'deep' })).resolves.toBe(false);
    expect(done).toEqual([]);
  });
});
