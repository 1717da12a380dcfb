import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActivityCoreClient } from '@activity-core/client';
import { type Db, listTasks } from '@activity-core/db';
import type { ServiceName } from '@activity-core/stack';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { metricNamesOf, opsExpressions, servedNames } from '../support/promql.ts';
import { type ServiceStack, startServiceStack } from '../support/services.ts';
import { uniqueId } from '../support/stack.ts';
import { WAIT_MS } from '../support/wait.ts';

// The three services as processes at LOG_LEVEL=debug, with every line they print captured:
// the API used with its bootstrap token and with an issued token, a run whose http context
// source sends an AC_SECRET_* header to an upstream that fails once (the retry goes through
// the Temporal SDK's logs) and then echoes the header back. No secret value may appear in any
// line of any service.
const TOKEN = 'redaction-admin-token-4f1e9c2b7a';
const CRM_SECRET = 'Bearer crm-secret-9d8c7b6a5f4e';
const NATS_PASSWORD = 'nats-password-3c2b1a0f9e';
const prefix = uniqueId('R');
const lines: Array<{ service: ServiceName; line: string }> = [];
let stack: ServiceStack;
let db: Db;
let ac: ActivityCoreClient;
let upstream: Server;
let upstreamCalls = 0;
let ports: Readonly<Record<ServiceName, number>>;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    upstreamCalls++;
    if (upstreamCalls === 1) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`busy; you sent ${req.headers.authorization}`);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ tier: 'gold', echoed: req.headers.authorization }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  stack = await startServiceStack({
    prefix,
    token: TOKEN,
    env: {
      // The test server asks for no credentials and accepts any: the services still hold one.
      NATS_USER: 'activity-core',
      NATS_PASSWORD,
      AC_HTTP_ALLOWED_HOSTS: upstreamHost,
      AC_SECRET_CRM_TOKEN: CRM_SECRET,
      LOG_LEVEL: 'debug',
    },
    onLine: (service, line) => lines.push({ service, line }),
  });
  ({ db, ports } = stack);
  await stack.start('worker', 'api');
  ac = stack.client();
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('secrets never reach the logs', () => {
  test(
    'API tokens, an http source secret header, and the NATS password are absent from every line of every service',
    async () => {
      const issued = await ac.tokens.create.mutate({ name: uniqueId('ops-'), scopes: ['read'] });
      const reader = stack.client(issued.secret);
      await reader.definitions.list.query({});
      // A refused token is logged nowhere either.
      const refused = await fetch(`${stack.apiUrl}/definitions.list`, {
        headers: { authorization: `Bearer ${TOKEN}-wrong` },
      });
      expect(refused.status).toBe(401);

      const upstreamUrl = `http://${(upstream.address() as AddressInfo).address}:${(upstream.address() as AddressInfo).port}`;
      const definition = await ac.definitions.create.mutate({
        spec: {
          key: uniqueId('crm-'),
          name: 'Check the customer',
          trigger: { kind: 'event', event: { types: ['order.created'] } },
          contextSources: [
            {
              name: 'crm',
              kind: 'http',
              url: `${upstreamUrl}/customers/{{ event.data.customer }}`,
              secretHeaders: { authorization: 'AC_SECRET_CRM_TOKEN' },
              retries: 2,
              timeoutMs: 5000,
            },
          ],
          taskTemplates: [{ key: 'call', title: 'Call the {{ context.crm.tier }} customer' }],
        },
      });
      // Ingest starts after the definition exists, so its first load has it.
      await stack.start('ingest');
      await ac.events.publish.mutate({
        specversion: '1.0',
        id: 'order-1',
        source: 'urn:shop',
        type: 'order.created',
        data: { customer: 'c-1' },
      });
      const [task] = await stack.waitFor(
        async () => {
          const { items } = await listTasks(db, { definitionId: definition.id });
          return items.length > 0 ? items : undefined;
        },
        { what: `the task of definition ${definition.key}`, timeoutMs: WAIT_MS },
      );
      expect(task?.title).toBe('Call the gold customer');
      expect(upstreamCalls).toBe(2);

      // The capture covers all three services, the worker's Temporal SDK lines, and the run's
      // correlation fields: what the absence below is checked against.
      const records = lines.flatMap(({ service, line }) => {
        try {
          return [{ service, record: JSON.parse(line) as Record<string, unknown> }];
        } catch {
          return [];
        }
      });
      for (const service of ['api', 'ingest', 'worker'] as const) {
        expect(records.some((r) => r.service === service && r.record.message === `${service} ready`)).toBe(true);
      }
      expect(records.some((r) => r.service === 'worker' && r.record.sdk === 'temporal')).toBe(true);
      const recorded = records.find((r) => r.record.message === 'run recorded')?.record;
      expect(recorded).toMatchObject({ definitionKey: definition.key, triggerKind: 'event', service: 'worker' });
      expect(recorded?.eventKey).toMatch(/^[0-9a-f]{64}$/);
      expect(recorded?.runId).toEqual(expect.any(String));

      const all = lines.map((l) => `${l.service}: ${l.line}`).join('\n');
      for (const secret of [TOKEN, issued.secret, CRM_SECRET, 'crm-secret-9d8c7b6a5f4e', NATS_PASSWORD]) {
        const leaks = all.split('\n').filter((line) => line.includes(secret));
        expect(leaks, `lines showing ${secret.slice(0, 12)}…`).toEqual([]);
      }
    },
    3 * WAIT_MS,
  );

  test('every service’s /metrics after the run: one naming scheme, process metrics, the run’s series', async () => {
    for (const service of ['api', 'ingest', 'worker'] as const) {
      const { names } = await scrape(service);
      // The worker's /metrics carries the Temporal SDK's worker metrics too, under temporal_.
      const scheme = service === 'worker' ? /^(ac_|process_|nodejs_|temporal_)/ : /^(ac_|process_|nodejs_)/;
      expect(
        names.filter((n) => !scheme.test(n)),
        `${service}: series outside ${scheme.source}`,
      ).toEqual([]);
      expect(names, service).toEqual(
        expect.arrayContaining(['process_cpu_seconds_total', 'nodejs_heap_size_used_bytes']),
      );
    }
    const api = await scrape('api');
    expect(api.value('ac_api_request_duration_seconds_count')).toBeGreaterThan(0);
    // The one event was delivered and acked: no lag, nothing awaiting an ack. The consumer
    // figures are the server's, read at scrape time (cached for a second), so they are awaited.
    const ingest = await stack.waitFor(
      async () => {
        const i = await scrape('ingest');
        return i.value('ac_ingest_consumer_pending') === 0 && i.value('ac_ingest_consumer_ack_pending') === 0
          ? i
          : undefined;
      },
      { what: 'ingest to report no consumer lag and nothing awaiting an ack', timeoutMs: WAIT_MS },
    );
    // One start for the one event: accepted, or (a start that timed out on a loaded machine and
    // was redelivered) recognised as a duplicate of the one Temporal had already accepted.
    const starts =
      (ingest.value('ac_ingest_starts_total') ?? 0) + (ingest.value('ac_ingest_duplicate_starts_total') ?? 0);
    expect(ingest.value('ac_ingest_starts_total'), 'at most one accepted start').toBeLessThanOrEqual(1);
    expect(starts, 'accepted plus duplicate starts').toBeGreaterThanOrEqual(1);
    // Redeliveries happen under load (a nak after a start timed out); the series must exist.
    expect(ingest.value('ac_ingest_consumer_redelivered')).toBeGreaterThanOrEqual(0);
    // The task's event is published by the relay; then nothing is pending.
    const worker = await stack.waitFor(
      async () => {
        const w = await scrape('worker');
        return (w.value('ac_outbox_published_total') ?? 0) >= 1 && w.value('ac_outbox_pending') === 0 ? w : undefined;
      },
      { what: 'the worker to report the task event published and an empty outbox', timeoutMs: WAIT_MS },
    );
    expect(worker.value('ac_outbox_failing')).toBe(0);
    expect(worker.value('ac_outbox_oldest_pending_age_seconds')).toBe(0);

    // One event, one run, one task: each state change counted once, whatever the activity
    // attempts (the http source's first call failed) and replays. The run is finished once the
    // workflow wrote its status, which may come a moment after the task event was published.
    const finished = await stack.waitFor(
      async () => {
        const w = await scrape('worker');
        return w.value('ac_runs_finished_total', { trigger_kind: 'event', status: 'succeeded' }) === 1 ? w : undefined;
      },
      { what: 'the worker to count the one event run as succeeded', timeoutMs: WAIT_MS },
    );
    expect(finished.value('ac_runs_started_total', { trigger_kind: 'event' })).toBe(1);
    expect(finished.sum('ac_runs_started_total'), 'runs started, all trigger kinds').toBe(1);
    expect(finished.sum('ac_runs_finished_total'), 'runs finished, all statuses').toBe(1);
    expect(finished.value('ac_run_duration_seconds_count', { trigger_kind: 'event', status: 'succeeded' })).toBe(1);
    expect(finished.value('ac_tasks_created_total')).toBe(1);
    expect(finished.sum('ac_tasks_closed_total'), 'no task was closed').toBe(0);
    // The SDK's worker metrics, bridged from its runtime's exporter into the one /metrics.
    expect(finished.names).toEqual(
      expect.arrayContaining([
        'temporal_worker_task_slots_available',
        'temporal_workflow_task_schedule_to_start_latency_seconds',
      ]),
    );
    // Schedule reconciles and dead letters by reason exist from the start, at 0 for each outcome.
    expect(finished.value('ac_schedule_reconciles_total', { outcome: 'failed' })).toBe(0);
    expect(ingest.value('ac_ingest_dead_letters_total', { reason: 'invalid_json' })).toBe(0);
    expect(ingest.value('ac_ingest_index_age_seconds')).toBeGreaterThanOrEqual(0);
    process.stdout.write(
      `[metrics] temporal_ families on the worker: ${finished.names.filter((n) => n.startsWith('temporal_')).join(' ')}\n`,
    );
  });

  test('every metric the ops/ dashboard and alert rules use is served by a service', async () => {
    const served = new Set<string>();
    for (const service of ['api', 'ingest', 'worker'] as const) {
      for (const name of servedNames((await scrape(service)).text)) served.add(name);
    }
    const files = opsExpressions(new URL('../../', import.meta.url));
    for (const [file, expressions] of Object.entries(files)) {
      expect(expressions.length, `${file}: expressions found`).toBeGreaterThan(0);
      const used = [...new Set(expressions.flatMap(metricNamesOf))];
      expect(used.length, `${file}: metric names found`).toBeGreaterThan(0);
      expect(
        used.filter((name) => !served.has(name)),
        `${file}: metrics no service serves`,
      ).toEqual([]);
    }
  });
});

/** One service's /metrics now: its family names, and sample values by name and labels. */
async function scrape(service: ServiceName) {
  const text = await (await fetch(`http://127.0.0.1:${ports[service]}/metrics`)).text();
  const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
  const samples = text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(l);
      const labels = Object.fromEntries(
        [...(m?.[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
      );
      return { name: m?.[1], labels, value: Number(m?.[3]) };
    });
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    text,
    names,
    /** The first sample of `name` with these labels (others ignored), undefined when none. */
    value: (name: string, labels: Record<string, string> = {}) => matching(name, labels)[0]?.value,
    /** The sum of every sample of `name` with these labels. */
    sum: (name: string, labels: Record<string, string> = {}) =>
      matching(name, labels).reduce((total, s) => total + s.value, 0),
  };
}
