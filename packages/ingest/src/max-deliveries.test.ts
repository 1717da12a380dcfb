import { describe, expect, test } from 'vitest';
import { advisoriesConsumerName, readMaxDeliveriesAdvisory } from './max-deliveries.ts';

const advisory = (body: string) => ({ json: <T>() => JSON.parse(body) as T });

describe('MAX_DELIVERIES advisories', () => {
  test('give the stream sequence and the deliveries of the exhausted message', () => {
    const body = JSON.stringify({
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      stream: 'AC_EVENTS',
      consumer: 'ac-ingest',
      stream_seq: 42,
      deliveries: 20,
    });
    expect(readMaxDeliveriesAdvisory(advisory(body))).toEqual({ ok: true, seq: 42, deliveries: 20 });
    expect(readMaxDeliveriesAdvisory(advisory('{"stream_seq":7}'))).toEqual({ ok: true, seq: 7, deliveries: 0 });
  });

  test('without a stream sequence, or unreadable, they are refused with the reason', () => {
    expect(readMaxDeliveriesAdvisory(advisory('{"deliveries":3}'))).toEqual({ ok: false, reason: 'no stream_seq' });
    expect(readMaxDeliveriesAdvisory(advisory('{"stream_seq":"7"}'))).toEqual({ ok: false, reason: 'no stream_seq' });
    expect(readMaxDeliveriesAdvisory(advisory('not json'))).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(readMaxDeliveriesAdvisory(advisory('null'))).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  test('are read through a durable consumer named after the ingest consumer', () => {
    expect(advisoriesConsumerName('ac-ingest')).toBe('ac-ingest-advisories');
  });
});
