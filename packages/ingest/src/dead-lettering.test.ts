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

interface PublishOptions {
  readonly headers: { get(k: string): string; values(k: string): string[] };
  readonly msgID: string;
}

/** A JetStream client whose publish records the subject and headers, then resolves or fails. */
function jetStream(fail: boolean, done: string[], published: PublishOptions[] = []) {
  return {
    publish: async (subject: string, _data: Uint8Array, options: PublishOptions) => {
      if (fail) throw new Error('no responders');
      published.push(options);
      done.push(`publish ${subject} ${options.headers.get(DlqHeader.reason)}`);
      return { stream: t.dlq.stream, seq: 1, duplicate: false } as PubAck;
    },
  } as unknown as JetStreamClient;
}

const parking = (fail: boolean, done: string[], published?: PublishOptions[]) =>
  createDeadLettering({
    js: jetStream(fail, done, published),
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

  test('a filter_error copy names each failed definition and leaves the original to be acked', async () => {
    const { message, done } = delivered();
    const published: PublishOptions[] = [];
    const cause = {
      reason: 'filter_error',
      message: 'a: budget: over budget; b: evaluation: no such key',
      field: 'trigger.event.filter',
      definitions: ['a', 'b'],
    } as const;
    await expect(parking(false, done, published).copy(message, cause)).resolves.toBe(true);
    expect(done).toEqual(['publish p.dlq.events.order.created filter_error']);
    expect(published[0]?.headers.values(DlqHeader.definition)).toEqual(['a', 'b']);
    expect(published[0]?.headers.get(DlqHeader.field)).toBe('trigger.event.filter');
    // Its own message id: a later dead letter of the same message is not a duplicate of the copy.
    expect(published[0]?.msgID).toBe('dlq:9:filter_error');
  });

  test('a window_key copy of the same message is a letter of its own beside a filter_error copy', async () => {
    const { message, done } = delivered();
    const published: PublishOptions[] = [];
    const lettering = parking(false, done, published);
    const filterCause = {
      reason: 'filter_error',
      message: 'a: budget',
      field: 'trigger.event.filter',
      definitions: ['a'],
    } as const;
    const keyCause = {
      reason: 'window_key',
      message: 'w: not_string: the window key must be a string, got number',
      field: 'trigger.event.window.key',
      definitions: ['w'],
    } as const;
    await expect(lettering.copy(message, filterCause)).resolves.toBe(true);
    await expect(lettering.copy(message, keyCause)).resolves.toBe(true);
    expect(done).toEqual([
      'publish p.dlq.events.order.created filter_error',
      'publish p.dlq.events.order.created window_key',
    ]);
    expect(published.map((p) => p.msgID)).toEqual(['dlq:9:filter_error', 'dlq:9:window_key']);
    expect(published[1]?.headers.values(DlqHeader.definition)).toEqual(['w']);
  });

  test('a copy that is not stored resolves false and leaves the original untouched', async () => {
    const { message, done } = delivered();
    const cause = { reason: 'filter_error', message: 'a: budget', definitions: ['a'] } as const;
    await expect(parking(true, done).copy(message, cause)).resolves.toBe(false);
    expect(done).toEqual([]);
  });
});
