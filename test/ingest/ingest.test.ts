import { setDefinitionEnabled } from '@activity-core/db';
import { DlqHeader, IdentityHeader, redriveDeadLetters } from '@activity-core/ingest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { outlasting, WAIT_MS, waitFor } from '../support/wait.ts';
import {
  createIngestHarness,
  DEFAULT_SOURCE,
  expectedRunId,
  type IngestHarness,
  type InProcessIngest,
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
    await waitFor(() => ingest.index.size, { what: `definition ${def.id} in the index`, until: (n) => n >= 1 });

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
    await waitFor(async () => Promise.all(ids.map((id) => h.workflowExists(id))), {
      what: `workflows ${ids.join(', ')}`,
      until: (exist) => exist.every(Boolean),
    });
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
    await waitFor(() => ingest.index.match(envelopeOf('invoice.paid')).matched.length, {
      what: `definition ${def.id} in the index`,
      until: (n) => n === 1,
    });
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
    await waitFor(async () => (await counters()).acks - before.acks, {
      what: 'three acks of the invoice.paid messages',
      until: (n) => n >= 3,
    });
    const after = await counters();
    expect(after.starts - before.starts).toBe(1);
    expect(after.duplicates - before.duplicates).toBe(2);
    expect(await h.runCount(expectedRunId(def.id, 'urn:test:billing', 'inv-7'))).toBe(1);
  });

  // The harness's periodic refresh runs every 10 minutes, longer than these waits: only
  // LISTEN/NOTIFY can bring the change in. The latency is printed, not asserted: the machine
  // is shared by the whole suite.
  test('definition changes reach the index through LISTEN/NOTIFY, long before the periodic refresh', async () => {
    const envelope = envelopeOf('late.arrival');
    const t0 = Date.now();
    const def = await h.defineEvent({ types: ['late.arrival'] });
    await waitFor(() => ingest.index.match(envelope).matched.length, {
      what: `new definition ${def.id} in the index`,
      until: (n) => n === 1,
      intervalMs: 10,
    });
    const added = Date.now() - t0;
    const t1 = Date.now();
    await setDefinitionEnabled(h.db, def.id, false);
    await waitFor(() => ingest.index.match(envelope).matched.length, {
      what: `disabled definition ${def.id} to leave the index`,
      until: (n) => n === 0,
      intervalMs: 10,
    });
    const removed = Date.now() - t1;
    process.stdout.write(`[ingest] definition change to index: added ${added} ms, disabled ${removed} ms\n`);
  });
});

describe('loop protection', () => {
  test('a definition triggered by its own task events stops at the causation depth limit', async () => {
    const def = await h.defineEvent({ types: ['loop.start', 'activitycore.task.created'] });
    await waitFor(() => ingest.index.match(envelopeOf('loop.start')).matched.length, {
      what: `definition ${def.id} in the index`,
      until: (n) => n === 1,
    });
    await h.js.publish(
      subject('loop.start'),
      JSON.stringify({ specversion: '1.0', source: 'urn:test:loop', type: 'loop.start', id: 'loop-1' }),
    );
    const taskSubject = subject('activitycore.task.created');
    await waitFor(async () => (await h.deadLetters()).map((l) => l.header(DlqHeader.subject)), {
      what: `the depth-8 task event on ${taskSubject} in the DLQ`,
      until: (subjects) => subjects.includes(taskSubject),
    });
    // The stand-in run of an event at depth d emits task:{runId}:0 at depth d + 1.
    const runIds: string[] = [];
    let source = 'urn:test:loop';
    let id = 'loop-1';
    for (let depth = 0; depth <= 8; depth++) {
      const runId = expectedRunId(def.id, source, id);
      runIds.push(runId);
      source = 'urn:activity-core';
      id = `task:${runId}:0`;
    }
    for (const runId of runIds.slice(0, 8)) expect(await h.workflowExists(runId)).toBe(true);
    expect(await h.workflowExists(runIds[8] as string)).toBe(false);
    const letter = (await h.deadLetters()).find((l) => l.header(DlqHeader.subject) === taskSubject);
    expect(letter?.header(DlqHeader.reason)).toBe('max_depth');
    expect(JSON.parse(Buffer.from(letter?.data ?? []).toString('utf8'))).toMatchObject({
      id: `task:${runIds[7]}:0`,
      causationdepth: 8,
    });
  });
});

describe('malformed messages, dead letters and redrive', () => {
  // Five waits one after another, and a restart of the pipeline (its stop drains for up to 10 s).
  const malformedTimeout = outlasting(WAIT_MS, WAIT_MS, WAIT_MS, WAIT_MS, WAIT_MS, 10_000);
  test(
    '52 malformed messages each land in the DLQ with their reason; ingest stays healthy; redrive works',
    async () => {
      const def = await h.defineEvent({ types: ['bad.>'] });
      await waitFor(() => ingest.index.match(envelopeOf('bad.x')).matched.length, {
        what: `definition ${def.id} in the index`,
        until: (n) => n === 1,
      });
      const cases = malformedCases();
      expect(cases.length).toBeGreaterThanOrEqual(50);
      const published: Array<{ seq: number; subject: string; data: Uint8Array; reason: string; msgId?: string }> = [];
      for (const [i, c] of cases.entries()) {
        const subj = subject(`bad.${i}`);
        const hdrs = natsHeaders();
        for (const [k, v] of Object.entries(c.headers ?? {})) hdrs.set(k, v);
        const msgId = c.noMsgId ? undefined : `bad-${i}`;
        const ack = await h.js.publish(subj, c.body, { headers: hdrs, ...(msgId ? { msgID: msgId } : {}) });
        const data = typeof c.body === 'string' ? new TextEncoder().encode(c.body) : c.body;
        published.push({ seq: ack.seq, subject: subj, data, reason: c.reason, ...(msgId ? { msgId } : {}) });
      }
      // Only this test's letters: others in the file park theirs in the same DLQ.
      const badPrefix = subject('bad.');
      await waitFor(
        async () => (await h.deadLetters()).filter((l) => l.header(DlqHeader.subject)?.startsWith(badPrefix)).length,
        { what: `all ${cases.length} malformed messages in the DLQ`, until: (n) => n >= cases.length },
      );
      const letters = await h.deadLetters();
      for (const p of published) {
        const letter = letters.find((l) => l.header(DlqHeader.subject) === p.subject);
        expect(letter, p.subject).toBeDefined();
        expect({ subject: p.subject, reason: letter?.header(DlqHeader.reason) }).toEqual({
          subject: p.subject,
          reason: p.reason,
        });
        expect(letter?.subject).toBe(p.subject.replace('.events.', '.dlq.events.'));
        expect(letter?.header(DlqHeader.streamSeq)).toBe(String(p.seq));
        expect(letter?.header(DlqHeader.deliveryCount)).toBe('1');
        expect(letter?.header(DlqHeader.message)).toBeTruthy();
        expect(letter?.header(DlqHeader.msgId)).toBe(p.msgId);
        expect(Buffer.from(letter?.data ?? []).equals(Buffer.from(p.data))).toBe(true);
      }
      // Original headers travel with the dead letter (here a binary-mode attribute).
      const binary = published.findIndex((_, i) => cases[i]?.headers?.['ce-specversion'] !== undefined);
      const binaryLetter = letters.find((l) => l.header(DlqHeader.subject) === published[binary]?.subject);
      expect(binaryLetter?.header('ce-specversion')).toBe(cases[binary]?.headers?.['ce-specversion']);

      // Still healthy: a valid event right after starts its run.
      expect(ingest.pipeline.paused).toBe(false);
      await h.js.publish(subject('bad.fine'), JSON.stringify({ ok: true }), { msgID: 'fine-1' });
      const fine = expectedRunId(def.id, DEFAULT_SOURCE, 'fine-1');
      await waitFor(() => h.workflowExists(fine), { what: `workflow ${fine} of the valid event after them` });

      // The operator raises the payload limit, and the string limit (their 300 KiB string is
      // over AC_INPUT_MAX_BYTES too); the too-large events are redriven and run under the
      // identity they arrived with (msg id, or stream:sequence for the one without).
      await ingest.stop();
      ingest = await h.startInProcess({ maxPayloadBytes: 1024 * 1024, maxInputBytes: 1024 * 1024 });
      const tooLarge = published.filter((p) => p.reason === 'payload_too_large');
      expect(tooLarge.length).toBe(3);
      const result = await redriveDeadLetters({ nc: h.nc, topology: h.topology }, { reason: 'payload_too_large' });
      expect(result).toMatchObject({ redriven: 3, failed: [] });
      const redriven = tooLarge.map((p) =>
        expectedRunId(def.id, DEFAULT_SOURCE, p.msgId ?? `${h.topology.events.stream}:${p.seq}`),
      );
      await waitFor(async () => Promise.all(redriven.map((runId) => h.workflowExists(runId))), {
        what: `redriven runs ${redriven.join(', ')}`,
        until: (exist) => exist.every(Boolean),
      });
      for (const runId of redriven) expect(await h.runCount(runId)).toBe(1);
      const remaining = await h.deadLetters();
      expect(remaining.filter((l) => l.header(DlqHeader.reason) === 'payload_too_large')).toEqual([]);
      expect(remaining.length).toBe(letters.length - 3);

      // By subject: an invalid message redriven fails again and is dead-lettered again, carrying
      // the identity of its first delivery.
      const first = published[0] as (typeof published)[number];
      const again = await redriveDeadLetters({ nc: h.nc, topology: h.topology }, { subject: 'bad.0' });
      expect(again).toMatchObject({ scanned: 1, redriven: 1, failed: [] });
      await waitFor(
        async () =>
          (await h.deadLetters())
            .filter((l) => l.header(DlqHeader.subject) === first.subject)
            .map((l) => l.header(IdentityHeader.streamSeq)),
        {
          what: `the redriven ${first.subject} back in the DLQ, carrying stream sequence ${first.seq}`,
          until: (seqs) => seqs.includes(String(first.seq)),
        },
      );
      const none = await redriveDeadLetters({ nc: h.nc, topology: h.topology }, { reason: 'no_such_reason' });
      expect(none.redriven).toBe(0);
      expect(none.scanned).toBe(remaining.length);
    },
    malformedTimeout,
  );
});

interface MalformedCase {
  body: string | Uint8Array;
  headers?: Record<string, string>;
  reason: string;
  noMsgId?: boolean;
}

function malformedCases(): MalformedCase[] {
  const ce = (attrs: Record<string, unknown>) =>
    JSON.stringify({ specversion: '1.0', id: 'e1', source: 'urn:t', type: 't', ...attrs });
  const without = (name: string) => {
    const o: Record<string, unknown> = { specversion: '1.0', id: 'e1', source: 'urn:t', type: 't' };
    delete o[name];
    return JSON.stringify(o);
  };
  const pad = JSON.stringify({ pad: 'x'.repeat(300 * 1024) });
  const bin = { 'ce-specversion': '1.0', 'ce-id': 'b1', 'ce-source': 'urn:t', 'ce-type': 't' };
  const binWithout = (name: string) => Object.fromEntries(Object.entries(bin).filter(([k]) => k !== name));
  return [
    ...[
      '{',
      'not json',
      '{"a":',
      '[1,2',
      '{"a":1}}',
      'tru',
      '"unterminated',
      '{a:1}',
      "{'a':1}",
      '',
      'NaN',
      '{"a":01}',
    ].map((body) => ({ body, reason: 'invalid_json' })),
    ...[[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x28, 0x8c, 0x28], [0x80]].map((b) => ({
      body: Uint8Array.from(b),
      reason: 'invalid_encoding',
    })),
    ...['0.3', '2.0', '1', '1.1', 'v1'].map((v) => ({
      body: ce({ specversion: v }),
      reason: 'unsupported_specversion',
    })),
    ...['id', 'source', 'type'].map((a) => ({ body: without(a), reason: 'missing_attribute' })),
    ...['id', 'source', 'type'].map((a) => ({ body: ce({ [a]: '' }), reason: 'missing_attribute' })),
    ...['ce-id', 'ce-source', 'ce-type'].map((a) => ({
      body: '{}',
      headers: binWithout(a),
      reason: 'missing_attribute',
    })),
    { body: ce({ time: 'yesterday' }), reason: 'invalid_attribute' },
    { body: ce({ time: '2024-13-45T00:00:00Z' }), reason: 'invalid_attribute' },
    { body: ce({ id: 5 }), reason: 'invalid_attribute' },
    { body: ce({ 'Bad-Name': 'x' }), reason: 'invalid_attribute' },
    { body: ce({ causationdepth: -1 }), reason: 'invalid_attribute' },
    { body: ce({ causationdepth: 'abc' }), reason: 'invalid_attribute' },
    { body: ce({ data: 1, data_base64: 'AA==' }), reason: 'invalid_attribute' },
    { body: ce({ nested: { a: 1 } }), reason: 'invalid_attribute' },
    ...['text/plain', 'application/xml', 'image/png'].map((t) => ({
      body: 'x',
      headers: { 'content-type': t },
      reason: 'unsupported_content_type',
    })),
    ...[0, 1].map(() => ({
      body: '[]',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      reason: 'unsupported_content_type',
    })),
    { body: pad, reason: 'payload_too_large' },
    { body: pad, reason: 'payload_too_large' },
    { body: pad, reason: 'payload_too_large', noMsgId: true },
    ...[8, 9, '12', 100].map((d) => ({ body: ce({ type: 'bad.deep', causationdepth: d }), reason: 'max_depth' })),
    { body: '{}', headers: { ...bin, 'ce-causationdepth': '8' }, reason: 'max_depth' },
  ];
}

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
