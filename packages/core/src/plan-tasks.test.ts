import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActivityDefinitionSpec } from './definition.ts';
import { type PlanInput, planTasks } from './plan-tasks.ts';
import { TaskInstance, taskEvent } from './task.ts';
import { runWorkflowIdForCron, runWorkflowIdForEvent, runWorkflowIdForManual, taskWorkflowId } from './workflow-ids.ts';

const spec = ActivityDefinitionSpec.parse({
  key: 'restock',
  name: 'Restock low items',
  trigger: { kind: 'event', event: { types: ['stock.low'] } },
  rules: [
    { name: 'business_hours', when: 'now.getHours("Europe/Berlin") >= 8' },
    { name: 'has_items', when: 'size(event.data.items) > 0' },
  ],
  taskTemplates: [
    {
      key: 'reorder',
      forEach: 'event.data.items',
      when: 'item.qty < 5',
      title: 'Reorder {{ item.sku }} ({{ index }})',
      assignee: '{{ context.buyer }}',
      priority: '{{ item.qty < 2 ? "high" : "normal" }}',
      labels: ['stock', '{{ item.sku }}'],
      due: 'PT4H',
      dueGraceSeconds: 3600,
      payload: {
        sku: '{{ item.sku }}',
        qty: '{{ item.qty }}',
        note: 'from {{ event.source }}',
        all: '{{ event.data.items }}',
      },
      dedupeKey: 'reorder:{{ item.sku }}',
    },
    {
      key: 'summary',
      title: 'Summary for {{ definition.key }} v{{ definition.version }}',
      labels: '{{ ["a", "b", "a"] }}',
      due: 'now + duration("30m")',
    },
  ],
});

const input = (items: unknown[], overrides: Partial<PlanInput> = {}): PlanInput => ({
  spec,
  event: { source: 'urn:wh', data: { items } },
  context: { buyer: 'bob' },
  trigger: { kind: 'event' },
  definition: { id: 'def-1', key: 'restock', version: 3 },
  now: '2025-05-01T10:00:00.000Z',
  ...overrides,
});

describe('planTasks under the evaluation budget', () => {
  const heavy = ActivityDefinitionSpec.parse({
    ...spec,
    rules: [{ name: 'fine', when: 'true' }],
    limits: { maxExpressionCost: 5_000 },
    taskTemplates: [
      {
        key: 'each',
        forEach: 'event.data.items',
        when: 'event.data.items.all(x, event.data.items.all(y, x.qty + y.qty >= 0))',
        title: '{{ item.sku }}',
      },
    ],
  });

  it('fails the plan with budget_exceeded naming the expression that ran out', () => {
    const items = Array.from({ length: 200 }, (_, i) => ({ sku: `s${i}`, qty: i }));
    expect(planTasks(input(items, { spec: heavy }))).toEqual({
      ok: false,
      error: { code: 'budget_exceeded', path: 'taskTemplates[0].when', message: expect.stringContaining('5000') },
    });
  });

  it('runs the same definition when the input is small enough for the budget', () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ sku: `s${i}`, qty: i }));
    const r = planTasks(input(items, { spec: heavy }));
    expect(r.ok ? r.plan.tasks.length : r.error).toBe(5);
  });

  it('budgets rules and template fields too, and never above the installation maximum', () => {
    const rule = ActivityDefinitionSpec.parse({
      ...spec,
      rules: [{ name: 'slow', when: "event.data.s.matches('^(a+)+$')" }],
      taskTemplates: [{ key: 't', title: '{{ event.data.s.upperAscii().split("").join("-") }}' }],
    });
    const event = { data: { s: `${'a'.repeat(2_000)}!` } };
    const limits = {
      defaultCost: 1_000_000,
      maxCost: 1_000,
      input: { maxDepth: 64, maxListElements: 1_000, maxBytes: 262_144 },
    };
    expect(planTasks(input([], { spec: rule, event, limits }))).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded', path: 'rules[0].when' },
    });
    const template = ActivityDefinitionSpec.parse({ ...rule, rules: [] });
    expect(planTasks(input([], { spec: template, event, limits }))).toMatchObject({
      ok: false,
      error: { code: 'budget_exceeded', path: 'taskTemplates[0].title' },
    });
    expect(planTasks(input([], { spec: template, event })).ok).toBe(true);
  });
});

describe('planTasks', () => {
  it('refuses a planned task PostgreSQL could not store, naming the field (unstorable_value)', () => {
    const r = planTasks(input([{ sku: 'A\u0000', qty: 1 }]));
    expect(!r.ok && r.error).toMatchObject({ code: 'unstorable_value', path: 'taskTemplates[0].title' });
    const lone = planTasks(input([{ sku: 'A', qty: 1 }], { context: { buyer: '\ud800' } }));
    expect(!lone.ok && lone.error).toMatchObject({ code: 'unstorable_value', path: 'taskTemplates[0].assignee' });
  });

  it('keeps __proto__ keys of data as data through CEL and into the payload', () => {
    const r = planTasks(
      input([{ sku: 'A', qty: 1 }], {
        event: JSON.parse('{"source":"s","data":{"items":[{"sku":"A","qty":1,"__proto__":{"x":1}}]}}'),
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const payload = r.plan.tasks[0]?.payload as { all: Array<Record<string, unknown>> } | undefined;
    const all = payload?.all ?? [];
    expect(Object.keys(all[0] ?? {})).toEqual(['sku', 'qty', '__proto__']);
    expect(Object.getPrototypeOf(all[0])).toBe(Object.prototype);
  });

  it('keeps constructor keys of data as data: such a map is still a map to CEL', () => {
    const r = planTasks(
      input([{ sku: 'A', qty: 1, constructor: { prototype: { polluted: true } } }], {
        event: JSON.parse(
          '{"source":"s","data":{"items":[{"sku":"A","qty":1,"constructor":{"prototype":{"polluted":true}}}]}}',
        ),
      }),
    );
    expect(r.ok ? undefined : r.error).toBeUndefined();
    if (!r.ok) return;
    const payload = r.plan.tasks[0]?.payload as { all: Array<Record<string, unknown>> } | undefined;
    expect(JSON.stringify(payload?.all[0])).toBe('{"sku":"A","qty":1,"constructor":{"prototype":{"polluted":true}}}');
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('renders forEach items with position indexes, skipping items filtered by when', () => {
    const r = planTasks(
      input([
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 9 },
        { sku: 'C', qty: 3 },
      ]),
    );
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (!r.ok) return;
    expect(r.plan.rules).toEqual([
      { name: 'business_hours', result: true },
      { name: 'has_items', result: true },
    ]);
    expect(r.plan.tasks).toEqual([
      {
        templateKey: 'reorder',
        index: 0,
        title: 'Reorder A (0)',
        assignee: 'bob',
        priority: 'high',
        labels: ['stock', 'A'],
        dueAt: '2025-05-01T14:00:00.000Z',
        expiresAt: '2025-05-01T15:00:00.000Z',
        payload: {
          sku: 'A',
          qty: 1,
          note: 'from urn:wh',
          all: [
            { sku: 'A', qty: 1 },
            { sku: 'B', qty: 9 },
            { sku: 'C', qty: 3 },
          ],
        },
        dedupeKey: 'reorder:A',
      },
      expect.objectContaining({ templateKey: 'reorder', index: 2, title: 'Reorder C (2)', priority: 'normal' }),
      {
        templateKey: 'summary',
        index: 0,
        title: 'Summary for restock v3',
        labels: ['a', 'b'],
        dueAt: '2025-05-01T10:30:00.000Z',
        payload: null,
      },
    ]);
  });

  it('records every rule and plans nothing when one is false', () => {
    const r = planTasks(input([]));
    expect(r.ok && r.plan).toEqual({
      rules: [
        { name: 'business_hours', result: true },
        { name: 'has_items', result: false },
      ],
      tasks: [],
    });
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sku: fc.string({ maxLength: 5 }), qty: fc.integer({ min: 0, max: 9 }) }), {
          maxLength: 20,
        }),
        (items) => {
          const a = planTasks(input(items));
          const b = planTasks(input(items));
          expect(a).toEqual(b);
          if (a.ok && items.length > 0) {
            const reorder = a.plan.tasks.filter((t) => t.templateKey === 'reorder');
            expect(reorder.map((t) => t.index)).toEqual(items.flatMap((item, i) => (item.qty < 5 ? [i] : [])));
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it.each([
    ['too_many_tasks', { ...spec, limits: { maxTasksPerRun: 2 } }, 'taskTemplates[0]'],
    ['output_too_large', { ...spec, limits: { maxTasksPerRun: 100, maxOutputBytes: 200 } }, 'taskTemplates[0]'],
  ])('enforces limits: %s', (code, limitedSpec, path) => {
    const r = planTasks(
      input(
        [
          { sku: 'A', qty: 1 },
          { sku: 'B', qty: 1 },
          { sku: 'C', qty: 1 },
        ],
        { spec: limitedSpec },
      ),
    );
    expect(!r.ok && r.error).toMatchObject({ code, path });
  });

  it('reports run-time expression errors with the field path', () => {
    const r = planTasks(input([{ qty: 1 }]));
    expect(!r.ok && r.error).toMatchObject({ code: 'evaluation_error', path: 'taskTemplates[0].title' });
    const notList = planTasks(input([], { event: { data: { items: 'nope' } } }));
    expect(!notList.ok && notList.error).toMatchObject({ code: 'for_each_not_list', path: 'taskTemplates[0].forEach' });
  });

  it('refuses an invalid spec instead of guessing', () => {
    const broken = { ...spec, rules: [{ name: 'x', when: 'nope' }] };
    expect(planTasks(input([], { spec: broken }))).toMatchObject({
      ok: false,
      error: { code: 'invalid_definition', path: 'rules[0].when' },
    });
  });

  it('accepts a CEL due that yields a timestamp string', () => {
    const s = ActivityDefinitionSpec.parse({
      ...spec,
      rules: [],
      taskTemplates: [{ key: 'x', title: 't', due: '{{ event.data.deadline }}' }],
    });
    const r = planTasks(input([], { spec: s, event: { data: { deadline: '2025-06-01T00:00:00+02:00' } } }));
    expect(r.ok && r.plan.tasks[0]?.dueAt).toBe('2025-05-31T22:00:00.000Z');
    const bad = planTasks(input([], { spec: s, event: { data: { deadline: 'soon' } } }));
    expect(!bad.ok && bad.error).toMatchObject({ code: 'invalid_due', path: 'taskTemplates[0].due' });
  });
});

describe('ids and task events', () => {
  it('builds deterministic workflow ids', () => {
    const run = runWorkflowIdForEvent('d1', 'abc');
    expect(run).toBe('run:d1:abc');
    expect(runWorkflowIdForCron('d1', '2025-05-01T09:00:00Z')).toBe('run:d1:cron:2025-05-01T09:00:00.000Z');
    expect(runWorkflowIdForManual('d1', 'k')).toBe('run:d1:manual:k');
    expect(taskWorkflowId(run, 'call', 2)).toBe('task:run:d1:abc:call:2');
  });

  it('builds the task CloudEvent and its subject', () => {
    const task = TaskInstance.parse({
      id: 't1',
      runId: 'r1',
      definitionId: 'd1',
      definitionKey: 'restock',
      definitionVersion: 3,
      templateKey: 'reorder',
      index: 0,
      idempotencyKey: 'task:run:d1:abc:reorder:0',
      title: 'Reorder',
      description: null,
      assignee: null,
      priority: null,
      labels: [],
      dueAt: null,
      expiresAt: null,
      payload: {},
      status: 'open',
      createdAt: '2025-05-01T10:00:00.000Z',
      updatedAt: '2025-05-01T10:00:00.000Z',
      completedAt: null,
      completedBy: null,
      reason: null,
    });
    const { subject, envelope } = taskEvent('created', task, {
      source: 'urn:activity-core',
      id: 'outbox-1',
      time: '2025-05-01T10:00:00.000Z',
      causationId: 'e-1',
      causationDepth: 1,
    });
    expect(subject).toBe('tasks.created.restock');
    expect(envelope).toMatchObject({
      type: 'activitycore.task.created',
      causationid: 'e-1',
      causationdepth: 1,
      data: { ...task, definitionVersion: 3 },
      subject: 't1',
    });
    expect('correlationid' in envelope).toBe(false);
  });
});
