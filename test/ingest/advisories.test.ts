import { ensureIngestConsumer } from '@activity-core/ingest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { outlasting, WAIT_MS, waitFor } from '../support/wait.ts';
import { CONSUMER, CONSUMER_SETTINGS, createIngestHarness, type IngestHarness } from './harness.ts';

// A message that runs out of deliveries while no ingest is connected: its MAX_DELIVERIES
// advisory is a plain core-NATS message, so without the advisories stream it would be gone,
// and the message would sit in the events stream with nobody to dead-letter it.
let h: IngestHarness;

beforeAll(async () => {
  h = await createIngestHarness();
  await ensureIngestConsumer(h.jsm, h.topology, {
    ...CONSUMER_SETTINGS,
    maxDeliver: 2,
    ackWaitMs: 300,
    maxBackoffMs: 300,
  });
});

afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

// Two deliveries (5 s each at most), an empty pull (2 s), then three waits.
test(
  'a message that ran out of deliveries while ingest was down is dead-lettered when it comes back',
  async () => {
    const ack = await h.js.publish(`${h.topology.events.subjectPrefix}parcel.lost`, JSON.stringify({ n: 1 }), {
      msgID: 'parcel-1',
    });
    // Something took the message twice and never acked it (a crashing consumer, say).
    const consumer = await h.js.consumers.get(h.topology.events.stream, CONSUMER);
    for (let delivery = 1; delivery <= 2; delivery++) {
      const m = await consumer.next({ expires: 5_000 });
      expect(m?.seq).toBe(ack.seq);
      expect(m?.info.deliveryCount).toBe(delivery);
    }
    // The server notices the exhausted message when it next looks for something to deliver.
    expect(await consumer.next({ expires: 2_000 })).toBeNull();
    await waitFor(async () => (await h.jsm.streams.info(h.topology.advisories.stream)).state.messages, {
      what: `the MAX_DELIVERIES advisory of stream sequence ${ack.seq} in ${h.topology.advisories.stream}`,
      until: (n) => n === 1,
    });
    expect(await h.deadLetters()).toEqual([]);

    await h.startInProcess({ maxDeliver: 2 });
    await waitFor(async () => (await h.deadLetters()).length, {
      what: `the dead letter of stream sequence ${ack.seq} in ${h.topology.dlq.stream}`,
      until: (n) => n === 1,
    });
    const [letter] = await h.deadLetters();
    expect(letter?.header('Ac-Dlq-Reason')).toBe('max_deliveries');
    expect(letter?.header('Ac-Dlq-Stream-Seq')).toBe(String(ack.seq));
    expect(new TextDecoder().decode(letter?.data)).toBe(JSON.stringify({ n: 1 }));
    await expect(h.jsm.streams.getMessage(h.topology.events.stream, { seq: ack.seq })).resolves.toBeNull();
    const advisoryConsumer = await h.jsm.consumers.info(h.topology.advisories.stream, `${CONSUMER}-advisories`);
    await waitFor(
      async () => {
        const info = await h.jsm.consumers.info(h.topology.advisories.stream, `${CONSUMER}-advisories`);
        return { pending: info.num_pending, ackPending: info.num_ack_pending };
      },
      {
        what: `the advisory acked on consumer ${CONSUMER}-advisories`,
        until: (seen) => seen.pending === 0 && seen.ackPending === 0,
      },
    );
    expect(advisoryConsumer.config.ack_policy).toBe('explicit');
  },
  outlasting(5_000, 5_000, 2_000, WAIT_MS, WAIT_MS, WAIT_MS),
);
