import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition, type Db, listTasks } from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import { completeTask } from '@activity-core/workflows';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ServiceStack, startServiceStack } from '../support/services.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { WAIT_MS, waitFor } from '../support/wait.ts';

// Ingest and the worker as processes with tracing on (OTLP/HTTP JSON to an in-process receiver):
// one event with a W3C traceparent must come back as one trace, under the inbound trace id, with
// spans from ingest, the run workflow and its activities, the task workflow and the relay; and
// the task event on NATS must carry a traceparent of that trace.
const INBOUND_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const INBOUND_SPAN = '00f067aa0ba902b7';
// The callers of the API's test: one publishes an event through it, another completes the task.
const PUBLISH_TRACE = '5a1e0c7d3f2b4e6a8c9d0e1f2a3b4c5d';
const PUBLISH_SPAN = '1a2b3c4d5e6f7081';
const COMPLETE_TRACE = '6b2f1d8e4a3c5f7b9d0e1f2a3b4c5d6e';
const COMPLETE_SPAN = '2b3c4d5e6f708192';
const TOKEN = 'tracing-test-token-0123456789';

interface ReceivedSpan {
  readonly service: string;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
}

interface OtlpAttribute {
  readonly key: string;
  readonly value: { readonly stringValue?: string };
}
interface OtlpTraces {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: readonly OtlpAttribute[] };
    readonly scopeSpans?: ReadonlyArray<{
      readonly spans?: ReadonlyArray<{ traceId: string; spanId: string; parentSpanId?: string; name: string }>;
    }>;
  }>;
}

const spans: ReceivedSpan[] = [];
const requests: Array<{ path: string; contentType: string | undefined }> = [];
const prefix = uniqueId('O');
const t = topology(prefix);
let receiver: Server;
let stack: ServiceStack;
let db: Db;
let nc: NatsConnection;
let temporal: Connection;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraces;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service =
          resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const s of scope.spans ?? []) {
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));

  stack = await startServiceStack({
    prefix,
    token: TOKEN,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Export within a fraction of a second of a span's end instead of the 5 s default.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  ({ db, nc } = stack);
  temporal = await Connection.connect({ address: stackInfo().temporalAddress });
  await stack.start('worker', 'api');
});

let ingest: Promise<void> | undefined;
/** Ingest, started by the first test that needs it (each test also runs alone). */
const startIngest = () => {
  ingest ??= stack.start('ingest');
  return ingest;
};

/** A call of an API procedure (tRPC over HTTP, no transformer) under the caller's trace. */
async function callApi(procedure: string, input: unknown, traceparent: string): Promise<unknown> {
  const response = await fetch(`${stack.apiUrl}/${procedure}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', traceparent },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { result?: { data?: unknown } };
  if (!response.ok) throw new Error(`${procedure}: HTTP ${response.status} ${JSON.stringify(body)}`);
  return body.result?.data;
}

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await temporal?.close();
});

describe('one trace from the inbound event to the task event', () => {
  test(
    'ingest, the run workflow and its activities, the task workflow and the relay export spans under the inbound trace id',
    async () => {
      const definition = await createDefinition(db, {
        spec: ActivityDefinitionSpec.parse({
          key: uniqueId('traced-'),
          name: 'Traced order',
          trigger: { kind: 'event', event: { types: ['order.created'] } },
          taskTemplates: [{ key: 'ship', title: 'Ship order {{ event.data.order }}' }],
        }),
      });
      // Ingest starts after the definition exists, so its first load has it.
      await startIngest();
      const js = jetstream(nc);
      await js.publish(
        `${t.events.subjectPrefix}order.created`,
        JSON.stringify({
          specversion: '1.0',
          id: uniqueId('order-'),
          source: 'urn:shop',
          type: 'order.created',
          traceparent: `00-${INBOUND_TRACE}-${INBOUND_SPAN}-01`,
          data: { order: 'o-1' },
        }),
        {
          headers: (() => {
            const h = natsHeaders();
            h.set('content-type', 'application/cloudevents+json');
            return h;
          })(),
        },
      );
      const [task] = await stack.waitFor(
        async () => {
          const { items } = await listTasks(db, { definitionId: definition.id });
          return items.length > 0 ? items : undefined;
        },
        { what: `the task of definition ${definition.key}`, timeoutMs: WAIT_MS },
      );
      if (!task) throw new Error('no task');
      // The task workflow's own span ends with the workflow: close the task.
      await completeTask(
        new Client({ connection: temporal, namespace: stackInfo().temporalNamespace }),
        task.workflowId,
        {
          by: 'tracing-test',
        },
      );

      const inTrace = () => spans.filter((s) => s.traceId === INBOUND_TRACE);
      const named = (name: string) => inTrace().find((s) => s.name === name);
      const expected = [
        'StartWorkflow:RunActivityWorkflow',
        'RunWorkflow:RunActivityWorkflow',
        'RunActivity:writeTasks',
        'StartChildWorkflow:TaskInstanceWorkflow',
        'RunWorkflow:TaskInstanceWorkflow',
        'task created',
      ];
      // The check returns the span names seen so far: a timeout shows which ones were missing.
      await waitFor(() => inTrace().map((s) => `${s.service}/${s.name}`), {
        what: `spans of the inbound trace: ingest process, ${expected.join(', ')}, relay publish`,
        until: (names) =>
          names.some((n) => n.includes('/process ')) &&
          names.some((n) => n.includes('/publish ') && n.includes('.created.')) &&
          expected.every((name) => names.some((n) => n.endsWith(`/${name}`))),
        timeoutMs: WAIT_MS,
        context: () => stack.logs(),
      });
      const trace = inTrace();
      process.stdout.write(
        `trace ${INBOUND_TRACE}: ${trace.length} spans\n${trace.map((s) => `  ${s.service} ${s.name} ${s.spanId} <- ${s.parentSpanId}`).join('\n')}\n`,
      );
      expect(requests.every((r) => r.path === '/v1/traces' && r.contentType === 'application/json')).toBe(true);

      // Ingest's span is the child of the inbound span; the start it made is its child.
      const ingest = trace.find((s) => s.name === `process ${t.events.subjectPrefix}order.created`);
      expect(ingest).toMatchObject({ service: 'activity-core-ingest', parentSpanId: INBOUND_SPAN });
      expect(named('StartWorkflow:RunActivityWorkflow')).toMatchObject({
        service: 'activity-core-ingest',
        parentSpanId: ingest?.spanId,
      });
      // The worker's spans come from the worker, and every span hangs on the inbound one.
      for (const name of expected.slice(1)) expect(named(name)?.service, name).toBe('activity-core-worker');
      const ids = new Set([INBOUND_SPAN, ...trace.map((s) => s.spanId)]);
      expect(trace.filter((s) => !ids.has(s.parentSpanId)).map((s) => s.name)).toEqual([]);
      // The run's activities run under it; the task's span is a child of the activity that wrote it.
      expect(trace.filter((s) => s.name.startsWith('RunActivity:')).length).toBeGreaterThanOrEqual(2);
      const writeTasks = named('RunActivity:writeTasks');
      const created = named('task created');
      expect(created?.parentSpanId).toBe(writeTasks?.spanId);
      const publish = trace.find((s) => s.name === `publish ${t.tasks.subjectPrefix}created.${definition.key}`);
      expect(publish).toMatchObject({ service: 'activity-core-worker', parentSpanId: created?.spanId });

      // The task event on NATS carries the task span's traceparent, as attribute and header.
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(t.tasks.stream, {
        last_by_subj: `${t.tasks.subjectPrefix}created.${definition.key}`,
      });
      if (!stored) throw new Error('no task event in the stream');
      const traceparent = `00-${INBOUND_TRACE}-${created?.spanId}-01`;
      expect((stored.json() as { traceparent?: string }).traceparent).toBe(traceparent);
      expect(stored.header.get('traceparent')).toBe(traceparent);
    },
    3 * WAIT_MS,
  );
  test(
    'a caller of the API: the event it publishes and the task it completes continue its traces',
    async () => {
      const definition = await createDefinition(db, {
        spec: ActivityDefinitionSpec.parse({
          key: uniqueId('traced-api-'),
          name: 'Traced through the API',
          trigger: { kind: 'event', event: { types: ['invoice.sent'] } },
          taskTemplates: [{ key: 'chase', title: 'Chase invoice {{ event.data.invoice }}' }],
        }),
      });
      // Ingest picks the new definition up at once (read-your-writes), whether or not it runs yet.
      await startIngest();
      await callApi(
        'events.publish',
        {
          specversion: '1.0',
          id: uniqueId('invoice-'),
          source: 'urn:billing',
          type: 'invoice.sent',
          data: { invoice: 'i-1' },
        },
        `00-${PUBLISH_TRACE}-${PUBLISH_SPAN}-01`,
      );
      const [task] = await stack.waitFor(
        async () => {
          const { items } = await listTasks(db, { definitionId: definition.id });
          return items.length > 0 ? items : undefined;
        },
        { what: `the task of definition ${definition.key}`, timeoutMs: WAIT_MS },
      );
      if (!task) throw new Error('no task');
      await callApi('tasks.complete', { id: task.id, by: 'tracing-test' }, `00-${COMPLETE_TRACE}-${COMPLETE_SPAN}-01`);

      const ofTrace = (traceId: string) => spans.filter((s) => s.traceId === traceId);
      await waitFor(() => ofTrace(PUBLISH_TRACE).map((s) => `${s.service}/${s.name}`), {
        what: "the published event's trace: the API request and procedure, ingest, the run",
        until: (names) =>
          names.includes('activity-core-api/trpc events.publish') &&
          names.some((n) => n.startsWith('activity-core-ingest/process ')) &&
          names.includes('activity-core-worker/RunWorkflow:RunActivityWorkflow'),
        timeoutMs: WAIT_MS,
        context: () => stack.logs(),
      });
      await waitFor(() => ofTrace(COMPLETE_TRACE).map((s) => `${s.service}/${s.name}`), {
        what: "the completion's trace: the API request and procedure, the update it sent and its handling",
        until: (names) =>
          names.includes('activity-core-api/trpc tasks.complete') &&
          names.some((n) => n.startsWith('activity-core-api/StartWorkflowUpdate:')) &&
          names.some((n) => n.startsWith('activity-core-worker/HandleUpdate:')),
        timeoutMs: WAIT_MS,
        context: () => stack.logs(),
      });
      for (const id of [PUBLISH_TRACE, COMPLETE_TRACE]) {
        process.stdout.write(
          `trace ${id}:\n${ofTrace(id)
            .map((s) => `  ${s.service} ${s.name} ${s.spanId} <- ${s.parentSpanId}`)
            .join('\n')}\n`,
        );
      }

      // The request's SERVER span is the child of the caller's; the procedure's is its child.
      const published = ofTrace(PUBLISH_TRACE);
      const publishRequest = published.find((s) => s.name === 'POST /trpc');
      expect(publishRequest).toMatchObject({ service: 'activity-core-api', parentSpanId: PUBLISH_SPAN });
      const publishCall = published.find((s) => s.name === 'trpc events.publish');
      expect(publishCall?.parentSpanId).toBe(publishRequest?.spanId);
      // The event carried the procedure's traceparent: ingest's span is its child.
      const ingest = published.find((s) => s.name === `process ${t.events.subjectPrefix}invoice.sent`);
      expect(ingest).toMatchObject({ service: 'activity-core-ingest', parentSpanId: publishCall?.spanId });

      const completed = ofTrace(COMPLETE_TRACE);
      const completeRequest = completed.find((s) => s.name === 'POST /trpc');
      expect(completeRequest).toMatchObject({ service: 'activity-core-api', parentSpanId: COMPLETE_SPAN });
      const completeCall = completed.find((s) => s.name === 'trpc tasks.complete');
      expect(completeCall?.parentSpanId).toBe(completeRequest?.spanId);
      const update = completed.find((s) => s.name.startsWith('StartWorkflowUpdate:'));
      expect(update).toMatchObject({ service: 'activity-core-api', parentSpanId: completeCall?.spanId });
      const handled = completed.find((s) => s.name.startsWith('HandleUpdate:'));
      expect(handled?.parentSpanId).toBe(update?.spanId);
    },
    3 * WAIT_MS,
  );
});
