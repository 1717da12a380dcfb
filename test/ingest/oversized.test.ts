import { DlqHeader, redriveDeadLetters } from '@activity-core/ingest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitFor } from '../support/wait.ts';
import { createIngestHarness, type IngestHarness } from './harness.ts';

// A message the server accepted but that cannot travel again with the DLQ headers beside it:
// the dead letter is stored by reference, the original stays in AC_EVENTS, and redrive reads
// the body from there. Nothing accepted is lost, and it is parked where an operator sees it.
let h: IngestHarness;

beforeAll(async () => {
  h = await createIngestHarness();
});

afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

test('a dead letter too large to store with its headers is kept by reference and redriven from the original', async () => {
  const maxPayload = h.nc.info?.max_payload ?? 0;
  expect(maxPayload).toBeGreaterThan(10_000);
  // Fits in the server as an event; does not fit once the DLQ headers are added.
  const body = new TextEncoder().encode(JSON.stringify({ blob: 'x'.repeat(maxPayload - 300 - 11) }));
  expect(body.length).toBe(maxPayload - 300);
  const ack = await h.js.publish(`${h.topology.events.subjectPrefix}blob.stored`, body, { msgID: 'big-1' });
  await h.startInProcess({ maxPayloadBytes: 64 * 1024 });

  await waitFor(async () => (await h.deadLetters()).length, {
    what: `the dead letter (by reference) of stream sequence ${ack.seq}`,
    until: (n) => n === 1,
  });
  const [letter] = await h.deadLetters();
  expect(letter?.header(DlqHeader.reason)).toBe('payload_too_large');
  expect(letter?.header(DlqHeader.bodyOmitted)).toBe(String(body.length));
  expect(letter?.header(DlqHeader.streamSeq)).toBe(String(ack.seq));
  expect(letter?.data.length).toBe(0);
  const original = await h.jsm.streams.getMessage(h.topology.events.stream, { seq: ack.seq });
  expect(original?.data.length).toBe(body.length);

  const result = await redriveDeadLetters({ nc: h.nc, topology: h.topology }, { reason: 'payload_too_large' });
  expect(result).toMatchObject({ redriven: 1, failed: [] });
  const events = await h.jsm.streams.info(h.topology.events.stream);
  const redriven = await h.jsm.streams.getMessage(h.topology.events.stream, { seq: events.state.last_seq });
  expect(redriven?.data).toEqual(body);
});
