import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createContextResolverRegistry } from '@activity-core/activities';
import { getRunByWorkflowId, listTasks, readRunLog } from '@activity-core/db';
import { type RunActivityInput, startRunActivity } from '@activity-core/workflows';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { workflowResult } from '../support/temporal.ts';
import { waitFor } from '../support/wait.ts';
import { createHarness, createOrderDefinition, type Harness, orderEvent } from './harness.ts';

const SECRET = 'sk-live-0123456789abcdef';

// A real HTTP server on loopback stands in for the systems http sources call.
let server: Server;
let base: string;
const seen: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
let failNext = 0;

let h: Harness;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/flaky') && failNext > 0) {
        failNext--;
        res.writeHead(503).end('busy');
        return;
      }
      if (req.url?.startsWith('/big')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ blob: 'x'.repeat(5000) }));
        return;
      }
      if (req.url?.startsWith('/missing')) {
        res.writeHead(404).end();
        return;
      }
      // Echoes the credential back: the run log must still never show it.
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ tier: 'gold', echoed: req.headers.authorization, body: body ? JSON.parse(body) : null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  h = await createHarness();
  await h.startWorker({
    allowedHosts: [`127.0.0.1:${port}`],
    env: { AC_SECRET_CRM_TOKEN: SECRET },
    resolvers: createContextResolverRegistry({
      weather: async ({ config }) => ({ city: (config as { city: string }).city, celsius: -3 }),
    }),
  });
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
  await new Promise((resolve) => server?.close(resolve));
});

async function runOnce(definitionId: string, envelope = orderEvent(1)) {
  const input: RunActivityInput = { definitionId, trigger: { kind: 'event', envelope } };
  const { workflowId } = await startRunActivity(h.client, { taskQueue: h.taskQueue, input });
  const outcome = await workflowResult(h.client, workflowId).then(
    () => 'completed' as const,
    (error: unknown) => {
      if (error instanceof WorkflowFailedError) return 'failed' as const;
      throw error;
    },
  );
  const run = await getRunByWorkflowId(h.db, workflowId);
  return { outcome, run, log: await readRunLog(h.db, run.id) };
}

const oneTask = (title: string, extra: Record<string, unknown> = {}) => ({
  rules: [],
  taskTemplates: [{ key: 'review', title, ...extra }],
});

describe('context sources', () => {
  test('http: rendered URL and body, secret header from the environment, 5xx retried, secret never in the run log', async () => {
    failNext = 1;
    const definition = await createOrderDefinition(h.db, {
      contextSources: [
        {
          name: 'crm',
          kind: 'http',
          method: 'POST',
          url: `${base}/flaky/{{ event.data.orderId }}`,
          body: { order: '{{ event.data.orderId }}' },
          secretHeaders: { authorization: 'AC_SECRET_CRM_TOKEN' },
          retries: 2,
          timeoutMs: 2000,
        },
      ],
      ...oneTask('{{ context.crm.tier }} customer'),
    });
    const envelope = orderEvent(1);
    const { outcome, run, log } = await runOnce(definition.id, envelope);
    expect(outcome).toBe('completed');
    const orderId = (envelope.data as { orderId: string }).orderId;
    const calls = seen.filter((s) => s.url === `/flaky/${orderId}`);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.headers.authorization).toBe(SECRET);
    expect(JSON.parse(calls[1]?.body ?? '{}')).toEqual({ order: orderId });

    const snapshot = log.find((e) => e.kind === 'context_resolved');
    expect(snapshot?.data).toMatchObject({
      sources: [
        {
          name: 'crm',
          kind: 'http',
          value: { tier: 'gold', echoed: '[redacted]' },
          detail: { status: 200, attempts: 2 },
        },
      ],
    });
    expect(JSON.stringify(log)).not.toContain(SECRET);
    await waitFor(async () => (await listTasks(h.db, { runId: run.id })).items.length, {
      what: `the task row of run ${run.id}`,
      until: (n) => n === 1,
    });
    const [task] = (await listTasks(h.db, { runId: run.id })).items;
    expect(task?.title).toBe('gold customer');
  });

  test('http: a host outside AC_HTTP_ALLOWED_HOSTS fails the run at once with a clear entry', async () => {
    const definition = await createOrderDefinition(h.db, {
      contextSources: [{ name: 'x', kind: 'http', url: 'http://example.invalid/data' }],
      ...oneTask('never'),
    });
    const { outcome, run, log } = await runOnce(definition.id);
    expect(outcome).toBe('failed');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ type: 'ContextFailed' });
    const failed = log.filter((e) => e.kind === 'run_failed');
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(failed[0]?.data)).toContain('AC_HTTP_ALLOWED_HOSTS');
  });

  test('http: a response over maxResponseBytes, and a 404, fail the run without retrying', async () => {
    for (const [path, message] of [
      ['/big', 'maxResponseBytes'],
      ['/missing', 'HTTP 404'],
    ] as const) {
      const before = seen.filter((s) => s.url === path).length;
      const definition = await createOrderDefinition(h.db, {
        contextSources: [{ name: 'x', kind: 'http', url: `${base}${path}`, maxResponseBytes: 1000, retries: 3 }],
        ...oneTask('never'),
      });
      const { outcome, log } = await runOnce(definition.id);
      expect(outcome).toBe('failed');
      expect(JSON.stringify(log.find((e) => e.kind === 'run_failed')?.data)).toContain(message);
      expect(seen.filter((s) => s.url === path).length - before).toBe(1);
    }
  });

  test('previousRun: the last successful run of the definition', async () => {
    const definition = await createOrderDefinition(h.db, {
      contextSources: [{ name: 'prev', kind: 'previousRun' }],
      ...oneTask('t'),
    });
    const first = await runOnce(definition.id);
    expect(first.log.find((e) => e.kind === 'context_resolved')?.data).toMatchObject({
      sources: [{ name: 'prev', value: null }],
    });
    const second = await runOnce(definition.id);
    expect(second.log.find((e) => e.kind === 'context_resolved')?.data).toMatchObject({
      sources: [{ name: 'prev', value: { runId: first.run.id, summary: { tasksPlanned: 1 } } }],
    });
  });

  test('openTasks: a second event for the same order spawns nothing while the first task is open', async () => {
    const definition = await createOrderDefinition(h.db, {
      contextSources: [{ name: 'open', kind: 'openTasks', dedupeKey: 'order-{{ event.data.orderId }}' }],
      rules: [],
      taskTemplates: [
        {
          key: 'review',
          title: 'Review',
          when: 'size(context.open) == 0',
          dedupeKey: 'order-{{ event.data.orderId }}',
        },
      ],
    });
    const first = orderEvent(1);
    const a = await runOnce(definition.id, first);
    await waitFor(async () => (await listTasks(h.db, { runId: a.run.id })).items.length, {
      what: `the task row of the first run ${a.run.id}`,
      until: (n) => n === 1,
    });
    const again = orderEvent(1, { data: first.data });
    const b = await runOnce(definition.id, again);
    expect(b.outcome).toBe('completed');
    expect(b.log.find((e) => e.kind === 'rules_evaluated')?.data).toMatchObject({ tasksPlanned: 0 });
    const open = b.log.find((e) => e.kind === 'context_resolved')?.data as { sources: Array<{ value: unknown[] }> };
    expect(open.sources[0]?.value).toHaveLength(1);
  });

  test('custom: a resolver registered in the worker; an unknown one fails the run', async () => {
    const definition = await createOrderDefinition(h.db, {
      contextSources: [{ name: 'wx', kind: 'custom', resolver: 'weather', config: { city: 'Oslo' } }],
      ...oneTask('{{ context.wx.city }} {{ context.wx.celsius }}'),
    });
    const ok = await runOnce(definition.id);
    expect(ok.outcome).toBe('completed');
    expect(ok.log.find((e) => e.kind === 'context_resolved')?.data).toMatchObject({
      sources: [{ name: 'wx', kind: 'custom', value: { city: 'Oslo', celsius: -3 } }],
    });
    const unknown = await createOrderDefinition(h.db, {
      contextSources: [{ name: 'wx', kind: 'custom', resolver: 'nope' }],
      ...oneTask('never'),
    });
    const failed = await runOnce(unknown.id);
    expect(failed.outcome).toBe('failed');
    const entry = failed.log.find((e) => e.kind === 'run_failed')?.data as { error: { message: string } };
    expect(entry.error.message).toContain('no resolver "nope" is registered');
  });
});
