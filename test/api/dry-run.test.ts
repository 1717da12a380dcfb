import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition } from '@activity-core/db';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stackInfo } from '../support/stack.ts';
import { eventSpec, eventsTopology, startTestApi, type TestApi } from './support.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
});

const order = (type: string, total: number) => ({
  specversion: '1.0' as const,
  id: `o-${type}-${total}`,
  source: 'urn:shop',
  type,
  data: { orderId: 'A-17', total },
});

/** Rows of every table, and messages of every stream of this API's topology. */
async function snapshot(): Promise<Record<string, number>> {
  const tables = [
    'definitions',
    'definition_versions',
    'runs',
    'run_log_entries',
    'task_instances',
    'outbox',
    'api_tokens',
  ];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(api.db);
    counts[table] = rows[0]?.n ?? -1;
  }
  const nc = await connect({ servers: stackInfo().natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const t = eventsTopology(api.prefix);
    for (const stream of [t.events.stream, t.dlq.stream, t.tasks.stream]) {
      counts[stream] = (await jsm.streams.info(stream)).state.messages;
    }
  } finally {
    await nc.close();
  }
  return counts;
}

test('dryRun explains a non-match, shows the plan for a match, and changes nothing', async () => {
  const client = api.client();
  const saved = await client.definitions.create.mutate({ spec: eventSpec('dry-orders') });
  const before = await snapshot();
  expect(before.definitions).toBe(1);

  const wrongType = await client.definitions.dryRun.query({
    definitionId: saved.id,
    event: order('order.updated', 500),
  });
  expect(wrongType.wouldTrigger).toBe(false);
  expect(wrongType.match).toEqual({
    matched: false,
    reason: 'type',
    detail: expect.stringContaining('order.created'),
    errorCode: null,
    cost: null,
    budget: null,
  });

  const filtered = await client.definitions.dryRun.query({ definitionId: saved.id, event: order('order.created', 5) });
  expect(filtered.wouldTrigger).toBe(false);
  expect(filtered.match).toMatchObject({ matched: false, reason: 'filter' });
  expect(filtered.rules).toEqual([{ name: 'big', result: false }]);
  expect(filtered.tasks).toEqual([]);

  const matched = await client.definitions.dryRun.query({ definitionId: saved.id, event: order('order.created', 500) });
  expect(matched.wouldTrigger).toBe(true);
  expect(matched.match).toEqual({
    matched: true,
    reason: null,
    detail: null,
    errorCode: null,
    cost: expect.any(Number),
    budget: 1_000_000,
  });
  expect(matched.context).toEqual({ team: { lead: 'ada' } });
  expect(matched.rules).toEqual([{ name: 'big', result: true }]);
  expect(matched.tasks).toEqual([
    expect.objectContaining({
      templateKey: 'review',
      index: 0,
      title: 'Review order A-17 for ada',
      assignee: 'ada',
      labels: ['orders'],
    }),
  ]);

  // An unsaved definition works the same, and non-static sources are listed, not called.
  const unsaved = await client.definitions.dryRun.query({
    definition: eventSpec('dry-unsaved', {
      trigger: { kind: 'event', event: { types: ['order.*'], source: 'urn:other' } },
      contextSources: [{ name: 'remote', kind: 'http', url: 'http://127.0.0.1:9/never' }],
      rules: [],
      taskTemplates: [{ key: 't', title: 'x' }],
    }),
    event: order('order.created', 1),
  });
  expect(unsaved.match).toMatchObject({ matched: false, reason: 'source' });
  expect(unsaved.unresolvedSources).toEqual(['remote']);

  expect(await snapshot()).toEqual(before);
});

test('dryRun shows a failing filter with the check that failed: over budget, or an evaluation error', async () => {
  const client = api.client();
  // Saved straight to the table, as under a larger limit: its estimate (1,000 elements, the
  // declared limit, which the API holds the event to) is over its budget of 1,000 units, so the
  // run-time budget is what stops it.
  const saved = await createDefinition(api.db, {
    spec: ActivityDefinitionSpec.parse(
      eventSpec('dry-budget', {
        trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.items.exists(i, i < 0)' } },
        limits: { maxExpressionCost: 1_000 },
      }),
    ),
  });
  const overBudget = await client.definitions.dryRun.query({
    definitionId: saved.id,
    event: { ...order('order.created', 1), data: { items: Array.from({ length: 1_000 }, () => 0) } },
  });
  expect(overBudget.wouldTrigger).toBe(false);
  expect(overBudget.match).toEqual({
    matched: false,
    reason: 'filter_error',
    errorCode: 'budget',
    detail: expect.stringContaining('budget of 1000'),
    cost: 1_001,
    budget: 1_000,
  });

  const missing = await client.definitions.dryRun.query({
    definition: eventSpec('dry-missing', {
      trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.nope > 1' } },
    }),
    event: order('order.created', 1),
  });
  expect(missing.match).toMatchObject({ matched: false, reason: 'filter_error', errorCode: 'evaluation' });
  expect(missing.match.detail).toContain('nope');
});

test('dryRun keys a windowed event as ingest does: under the budget, apart from the filter', async () => {
  const client = api.client();
  // 1,000 elements, the declared input limit the API holds the event to.
  const items = Array.from({ length: 1_000 }, () => 0);
  // Saved straight to the table, as under a larger budget: the save-time estimate of the
  // doubled key is over 6,000 units, so the run-time budget is what stops it.
  const windowed = (key: string, suffix: string) =>
    createDefinition(api.db, {
      spec: ActivityDefinitionSpec.parse(
        eventSpec(`dry-window-budget-${suffix}`, {
          trigger: {
            kind: 'event',
            event: {
              types: ['order.created'],
              filter: 'event.data.items.exists(i, i < 0) == false',
              window: { mode: 'batch', key, duration: 'PT1M' },
            },
          },
          rules: [],
          taskTemplates: [{ key: 'one', title: '{{ window.count }} about {{ window.key }}' }],
          limits: { maxExpressionCost: 6_000 },
        }),
      ),
    });
  // Filter and key each spend about 4,000 units of the 6,000: each has a budget of its own.
  const single = await windowed("event.data.items.exists(i, i < 0) ? 'neg' : 'pos'", 'single');
  const keyed = await client.definitions.dryRun.query({
    definitionId: single.id,
    event: { ...order('order.created', 1), data: { items } },
  });
  expect(keyed.match).toMatchObject({ matched: true, budget: 6_000 });
  expect(keyed.window).toEqual({ key: 'pos' });
  expect(keyed.tasks.map((t) => t.title)).toEqual(['1 about pos']);
  // Twice the work: the key runs out of its budget, the filter still fits its own.
  const doubled = await windowed(
    "event.data.items.exists(i, i < 0) || event.data.items.exists(i, i < 0) ? 'neg' : 'pos'",
    'doubled',
  );
  const overBudget = await client.definitions.dryRun.query({
    definitionId: doubled.id,
    event: { ...order('order.created', 1), data: { items } },
  });
  expect(overBudget.match).toMatchObject({ matched: true });
  expect(overBudget.window).toEqual({ error: expect.stringContaining('budget of 6000'), code: 'budget' });
  // Ingest would park it as window_key, never start it.
  expect(overBudget.wouldTrigger).toBe(false);
});

test('dryRun input errors name the field', async () => {
  const client = api.client();
  const both = await client.definitions.dryRun.query({ event: order('order.created', 1) }).then(
    () => null,
    (e: { data?: { fieldErrors?: unknown } }) => e.data?.fieldErrors,
  );
  expect(both).toEqual([{ path: 'definitionId', message: expect.stringMatching(/exactly one/) }]);
  const badEvent = await client.definitions.dryRun
    .query({ definition: eventSpec('dry-bad'), event: { ...order('order.created', 1), specversion: '0.3' as '1.0' } })
    .then(
      () => null,
      (e: { data?: { fieldErrors?: Array<{ path: string }> } }) => e.data?.fieldErrors?.map((f) => f.path),
    );
  expect(badEvent).toEqual(['event.specversion']);
});
