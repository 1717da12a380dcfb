import { setDefinitionEnabled } from '@activity-core/db';
import { DlqHeader, IdentityHeader, redriveDeadLetters } from '@activity-core/ingest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIngestHarness,
  DEFAULT_SOURCE,
  expectedRunId,
  type IngestHarness,
  type InProcessIngest,
  waitFor,
} from './harness.ts';

// One pipeline in-process for the whole file, on its own database, stream prefix and task
// queue, with a stand-in RunActivityWorkflow worker (see stand-in.workflow.ts).
let h: IngestHarness;
let ingest: InProcessIngest;

beforeAll(async () => {
  h = await createIngestHarness();
  await h.startWorker();
  ingest = await h.startInProcess();
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

const subject = (type: string) => `${h.topology.events.subjectPrefix}${type}`;

/** NATS headers from the plain record the cloudevents SDK's HTTP binding produces. */
function toNatsHeaders(record: Record<string, unknown>) {
  const hdrs = natsHeaders();
  for (const [k, v] of Object.entries(record)) if (v !== undefined) hdrs.set(k, String(v));
  return hdrs;
}

describe('accepted message forms', () => {
  test('plain JSON, structured and binary CloudEvents (official SDK) each start the matching definition', async () => {
    const def = await h.defineEvent({ types: ['order.created'], filter: 'event.data.total > 10' });
    await waitFor(() => ingest.index.size >= 1, 'the definition in the index');

    await h.js.publish(subject('order.created'), JSON.stringify({ total: 42 }), { msgID: 'plain-1' });
    const structured = HTTP.structured(
      new CloudEvent({
        specversion: '1.0',
        source: 'urn:test:shop',
        type: 'order.created',
        id: 'ce-s-1',
        data: { total: 50 },
      }),
    );
    await h.js.publish(subject('order.created'), structured.body as string, {
      headers: toNatsHeaders(structured.headers),
    });
    const binary = HTTP.binary(
      new CloudEvent({
        specversion: '1.0',
        source: 'urn:test:shop',
        type: 'order.created',
        id: 'ce-b-1',
        datacontenttype: 'application/json',
        data: { total: 60 },
      }),
    );
    await h.js.publish(subject('order.created'), binary.body as string, { headers: toNatsHeaders(binary.headers) });
    // Filtered out: matches the type but not the filter, so no run and an ack.
    await h.js.publish(subject('order.created'), JSON.stringify({ total: 1 }), { msgID: 'plain-small' });

    const ids = [
      expectedRunId(def.id, DEFAULT_SOURCE, 'plain-1'),
      expectedRunId(def.id, 'urn:test:shop', 'ce-s-1'),
      expectedRunId(def.id, 'urn:test:shop', 'ce-b-1'),
    ];
    for (const id of ids) await waitFor(() => h.workflowExists(id), `workflow ${id}`);
    expect(await h.workflowExists(expectedRunId(def.id, DEFAULT_SOURCE, 'plain-small'))).toBe(false);
    // The structured event's data reached the workflow input intact.
    const input = (await h.client.workflow.getHandle(ids[1] as string).fetchHistory()).events?.[0]
      ?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    const decoded = JSON.parse(Buffer.from(input as Uint8Array).toString('utf8'));
    expect(decoded).toMatchObject({
      definitionId: def.id,
      trigger: { kind: 'event', envelope: { id: 'ce-s-1', source: 'urn:test:shop', data: { total: 50 } } },
    });
  });

  test('the same event twice (also with another Nats-Msg-Id, and in another transport form) starts one run', async () => {
    const def = await h.defineEvent({ types: ['invoice.paid'] });
    await waitFor(() => ingest.index.match(envelopeOf('invoice.paid')).length === 1, 'the definition in the index');
    const before = await counters();
    const event = new CloudEvent({ source: 'urn:test:billing', type: 'invoice.paid', id: 'inv-7', data: { n: 1 } });
    const structured = HTTP.structured(event);
    const binary = HTTP.binary(event);
    for (const msgID of ['first', 'second']) {
      await h.js.publish(subject('invoice.paid'), structured.body as string, {
        msgID,
        headers: toNatsHeaders(structured.headers),
      });
    }
    await h.js.publish(subject('invoice.paid'), binary.body as string, {
      msgID: 'third',
      headers: toNatsHeaders(binary.headers),
    });
    await waitFor(async () => (await counters()).acks - before.acks >= 3, 'three acks');
    const after = await counters();
    expect(after.starts - before.starts).toBe(1);
    expect(after.duplicates - before.duplicates).toBe(2);
    expect(await h.runCount(expectedRunId(def.id, 'urn:test:billing', 'inv-7'))).toBe(1);
  });

  test('definition changes reach the index within a second (LISTEN/NOTIFY)', async () => {
    const envelope = envelopeOf('late.arrival');
    const t0 = Date.now();
    const def = await h.defineEvent({ types: ['late.arrival'] });
    await waitFor(() => ingest.index.match(envelope).length === 1, 'the new definition', 1000);
    const added = Date.now() - t0;
    const t1 = Date.now();
    await setDefinitionEnabled(h.db, def.id, false);
    await waitFor(() => ingest.index.match(envelope).length === 0, 'the disabled definition to leave', 1000);
    expect(added).toBeLessThan(1000);
    expect(Date.now() - t1).toBeLessThan(1000);
  });
});

function envelopeOf(type: string) {
  return { specversion: '1.0' as const, id: 'x', source: 'urn:x', type, causationdepth: 0 };
}

async function counters() {
  const m = ingest.metrics;
  const value = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
    (await c.get()).values.reduce((sum, v) => sum + v.value, 0);
  return {
    acks: await value(m.acks),
    starts: await value(m.starts),
    duplicates: await value(m.duplicateStarts),
    received: await value(m.received),
  };
}

export { DlqHeader, IdentityHeader, redriveDeadLetters };
