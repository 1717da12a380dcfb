import { topology } from '@activity-core/messaging';
import { headers } from '@nats-io/transport-node';
import { describe, expect, test } from 'vitest';
import { redeliveryBackoffMs } from './consumer.ts';
import { deadLetterHeaders, deadLetterSubject, originalSubject } from './dead-letter.ts';
import { DlqHeader, IdentityHeader } from './headers.ts';
import { toRawMessage } from './raw-message.ts';
import { redriveHeaders } from './redrive.ts';
import { isUnavailableError } from './run-starter.ts';
import { Slots } from './slots.ts';

const t = topology('P');

describe('dead letters', () => {
  test('subjects map between events and the DLQ under a prefix', () => {
    expect(deadLetterSubject(t, 'p.events.order.created')).toBe('p.dlq.events.order.created');
    expect(originalSubject(t, 'p.dlq.events.order.created')).toBe('p.events.order.created');
    expect(deadLetterSubject(topology(), 'events.a')).toBe('dlq.events.a');
  });

  test('headers keep the application headers, move Nats-* aside and flatten the message', () => {
    const original = headers();
    original.set('ce-source', 'urn:x');
    original.set('Nats-Msg-Id', 'm-1');
    original.set('Nats-Expected-Last-Sequence', '4');
    original.set('Ac-Dlq-Reason', 'forged');
    const h = deadLetterHeaders({
      subject: 'p.events.a',
      data: new Uint8Array(),
      headers: original,
      stream: 'P_AC_EVENTS',
      streamSeq: 7,
      deliveryCount: 2,
      reason: 'invalid_json',
      message: 'line one\r\nline two',
    });
    expect(h.get('ce-source')).toBe('urn:x');
    expect(h.has('Nats-Msg-Id')).toBe(false);
    expect(h.has('Nats-Expected-Last-Sequence')).toBe(false);
    expect(h.get(DlqHeader.reason)).toBe('invalid_json');
    expect(h.get(DlqHeader.message)).toBe('line one line two');
    expect(h.get(DlqHeader.msgId)).toBe('m-1');
    expect(h.get(DlqHeader.streamSeq)).toBe('7');
    expect(h.get(DlqHeader.deliveryCount)).toBe('2');
  });
});

describe('redrive identity', () => {
  const letter = (extra: Record<string, string> = {}) => {
    const h = headers();
    h.set('ce-id', 'x');
    h.set(DlqHeader.reason, 'max_depth');
    h.set(DlqHeader.stream, 'P_AC_EVENTS');
    h.set(DlqHeader.streamSeq, '12');
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return h;
  };

  test('the first redrive records the original msg id and sequence, and drops the Ac-Dlq-* headers', () => {
    const h = redriveHeaders(letter({ [DlqHeader.msgId]: 'orig' }));
    expect(h.get(IdentityHeader.msgId)).toBe('orig');
    expect(h.get(IdentityHeader.streamSeq)).toBe('12');
    expect(h.get('ce-id')).toBe('x');
    expect(h.has(DlqHeader.reason)).toBe(false);
  });

  test('a later redrive keeps the first identity, not the redrive msg id', () => {
    const h = redriveHeaders(
      letter({
        [DlqHeader.msgId]: 'redrive:P_AC_DLQ:3',
        [IdentityHeader.stream]: 'P_AC_EVENTS',
        [IdentityHeader.streamSeq]: '5',
      }),
    );
    expect(h.has(IdentityHeader.msgId)).toBe(false);
    expect(h.get(IdentityHeader.streamSeq)).toBe('5');
  });

  test('ingest derives a plain message id from the identity headers, not from the redelivery', () => {
    const h = headers();
    h.set('Nats-Msg-Id', 'redrive:P_AC_DLQ:3');
    h.set(IdentityHeader.stream, 'P_AC_EVENTS');
    h.set(IdentityHeader.streamSeq, '5');
    const raw = toRawMessage({
      subject: 'p.events.a',
      headers: h,
      data: new Uint8Array(),
      seq: 99,
      info: { stream: 'P_AC_EVENTS', deliveryCount: 1 } as never,
      time: new Date(0),
    });
    expect(Object.keys(raw.headers ?? {}).some((k) => k.toLowerCase() === 'nats-msg-id')).toBe(false);
    expect(raw.info?.streamSequence).toBe(5);
  });
});

describe('flow control', () => {
  test('slots bound concurrency and report idle', async () => {
    const slots = new Slots(2);
    await slots.acquire();
    await slots.acquire();
    let third = false;
    const waiting = slots.acquire().then(() => {
      third = true;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    slots.release();
    await waiting;
    expect(third).toBe(true);
    let idle = false;
    const done = slots.idle().then(() => {
      idle = true;
    });
    slots.release();
    await Promise.resolve();
    expect(idle).toBe(false);
    slots.release();
    await done;
    expect(idle).toBe(true);
  });

  test('redelivery backoffs double and cap', () => {
    expect(redeliveryBackoffMs({ ackWaitMs: 1000, maxDeliver: 3, maxBackoffMs: 5000 })).toEqual([1000, 2000]);
    expect(redeliveryBackoffMs({ ackWaitMs: 1000, maxDeliver: 20, maxBackoffMs: 5000 })).toEqual([
      1000, 2000, 4000, 5000, 5000, 5000,
    ]);
  });

  test('unavailability is told apart from a refused request', () => {
    expect(isUnavailableError(Object.assign(new Error('x'), { cause: { code: 14 } }))).toBe(true);
    expect(isUnavailableError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnavailableError(Object.assign(new Error('bad'), { cause: { code: 3 } }))).toBe(false);
  });
});
