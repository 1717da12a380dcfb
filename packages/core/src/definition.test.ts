import { describe, expect, it } from 'vitest';
import { compileExpression, evaluate, eventFilterEnvironment, ruleEnvironment, toCelValue } from './cel.ts';
import { DEFAULT_EXPRESSION_LIMITS } from './cel-limits.ts';
import { compileStoredDefinition, definitionJsonSchema, validateDefinitionSpec } from './definition.ts';

const validSpec = {
  key: 'order-follow-up',
  name: 'Follow up large orders',
  trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
  contextSources: [{ name: 'customer', kind: 'static', value: { tier: 'gold' } }],
  rules: [{ name: 'gold', when: 'context.customer.tier == "gold"' }],
  taskTemplates: [
    {
      key: 'call',
      title: 'Call {{ event.data.customer }}',
      due: 'PT4H',
      dueGraceSeconds: 3600,
      payload: { orderId: '{{ event.data.id }}', fixed: 1 },
    },
  ],
};

const errorsOf = (input: unknown) => {
  const r = validateDefinitionSpec(input);
  return r.ok ? [] : r.errors;
};

describe('validateDefinitionSpec', () => {
  it('accepts a valid spec and fills defaults', () => {
    const r = validateDefinitionSpec(validSpec);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.spec.limits).toEqual({ maxTasksPerRun: 100 });
  });

  it.each([
    [{ ...validSpec, key: 'Bad Key' }, 'key'],
    [{ ...validSpec, name: '' }, 'name'],
    [{ ...validSpec, trigger: { kind: 'cron', cron: { expression: '61 * * * *' } } }, 'trigger.cron.expression'],
    [
      { ...validSpec, trigger: { kind: 'cron', cron: { expression: '0 9 * * *', timezone: 'Nowhere/City' } } },
      'trigger.cron.timezone',
    ],
    [
      { ...validSpec, trigger: { kind: 'cron', cron: { expression: '0 9 * * *', jitterSeconds: 7200 } } },
      'trigger.cron.jitterSeconds',
    ],
    [{ ...validSpec, trigger: { kind: 'event', event: { types: ['order.>.x'] } } }, 'trigger.event.types[0]'],
    [{ ...validSpec, trigger: { kind: 'event', event: { types: [] } } }, 'trigger.event.types'],
    [{ ...validSpec, trigger: { kind: 'nope' } }, 'trigger.kind'],
    [{ ...validSpec, taskTemplates: [] }, 'taskTemplates'],
    [{ ...validSpec, taskTemplates: [{ key: 'a', title: '' }] }, 'taskTemplates[0].title'],
    [{ ...validSpec, taskTemplates: [validSpec.taskTemplates[0], validSpec.taskTemplates[0]] }, 'taskTemplates[1].key'],
    [
      {
        ...validSpec,
        rules: [
          { name: 'r', when: 'x' },
          { name: 'r', when: 'true' },
        ],
      },
      'rules[1].name',
    ],
    [
      {
        ...validSpec,
        contextSources: [{ name: 'h', kind: 'http', url: 'x', secretHeaders: { Authorization: 'lower' } }],
      },
      'contextSources[0].secretHeaders.Authorization',
    ],
    // The worker's own credentials are not definition secrets.
    [
      {
        ...validSpec,
        contextSources: [{ name: 'h', kind: 'http', url: 'x', secretHeaders: { Authorization: 'DATABASE_URL' } }],
      },
      'contextSources[0].secretHeaders.Authorization',
    ],
    [{ ...validSpec, limits: { maxTasksPerRun: 0 } }, 'limits.maxTasksPerRun'],
    // Above what one Temporal payload carries.
    [{ ...validSpec, limits: { maxOutputBytes: 4 * 1024 * 1024 } }, 'limits.maxOutputBytes'],
  ])('names the field of a structural error (%#: %s)', (input, path) => {
    expect(errorsOf(input).map((e) => e.path)).toContain(path);
  });

  it.each([
    [
      { ...validSpec, rules: [{ name: 'r', when: 'context.customer.tier ==' }] },
      'rules[0].when',
      'cel_syntax',
      'column',
    ],
    [{ ...validSpec, rules: [{ name: 'r', when: 'unknownVar > 1' }] }, 'rules[0].when', 'cel_type', 'unknownVar'],
    [{ ...validSpec, rules: [{ name: 'r', when: '1 + 1' }] }, 'rules[0].when', 'cel_type', 'expected bool'],
    [{ ...validSpec, rules: [{ name: 'r', when: '1 + "a"' }] }, 'rules[0].when', 'cel_type', 'overload'],
    [
      { ...validSpec, trigger: { kind: 'event', event: { types: ['a'], filter: 'context.x' } } },
      'trigger.event.filter',
      'cel_type',
      'context',
    ],
    [
      { ...validSpec, taskTemplates: [{ key: 'a', title: 'Hi {{ event.data. }}' }] },
      'taskTemplates[0].title',
      'template_syntax',
      'offset',
    ],
    [
      { ...validSpec, taskTemplates: [{ key: 'a', title: 'Hi {{ event.x' }] },
      'taskTemplates[0].title',
      'template_syntax',
      'unclosed',
    ],
    [
      { ...validSpec, taskTemplates: [{ key: 'a', title: 't', forEach: '"abc"' }] },
      'taskTemplates[0].forEach',
      'cel_type',
      'list',
    ],
    [
      { ...validSpec, taskTemplates: [{ key: 'a', title: 't', payload: { deep: ['{{ nope }}'] } }] },
      'taskTemplates[0].payload.deep[0]',
      'template_type',
      'nope',
    ],
    [
      { ...validSpec, taskTemplates: [{ key: 'a', title: 't', due: 'now +' }] },
      'taskTemplates[0].due',
      'cel_syntax',
      '',
    ],
    [
      { ...validSpec, contextSources: [{ name: 'h', kind: 'http', url: 'https://x/{{ event.id ' }] },
      'contextSources[0].url',
      'template_syntax',
      '',
    ],
    [
      {
        ...validSpec,
        limits: { maxExpressionCost: 50 },
        taskTemplates: [{ key: 'a', title: 't', forEach: 'event.data.items.map(i, i.map(j, j))' }],
      },
      'taskTemplates[0].forEach',
      'cel_cost',
      'cost',
    ],
  ])('reports CEL/template errors at save time (%#: %s)', (input, path, code, text) => {
    const error = errorsOf(input).find((e) => e.path === path);
    expect(error, JSON.stringify(errorsOf(input))).toBeDefined();
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(text);
  });

  it('refuses a filter whose worst case exceeds its budget for inputs within the limits', () => {
    const filter = 'event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))';
    const errors = errorsOf({ ...validSpec, trigger: { kind: 'event', event: { types: ['a'], filter } } });
    expect(errors).toEqual([
      expect.objectContaining({
        path: 'trigger.event.filter',
        code: 'cel_cost',
        message: expect.stringContaining('1000000'),
      }),
    ]);
  });

  it('refuses a literal pattern RE2 does not accept, naming the expression', () => {
    const filter = "event.data.s.matches('(?=a)')";
    expect(errorsOf({ ...validSpec, trigger: { kind: 'event', event: { types: ['a'], filter } } })).toEqual([
      expect.objectContaining({
        path: 'trigger.event.filter',
        code: 'cel_regex',
        message: expect.stringMatching(/invalid RE2 pattern .*\(line 1, column 22\)/),
      }),
    ]);
    expect(
      errorsOf({ ...validSpec, taskTemplates: [{ key: 'a', title: "{{ event.id.matches('a{2000}') }}" }] }),
    ).toEqual([expect.objectContaining({ path: 'taskTemplates[0].title', code: 'template_regex' })]);
  });

  it('keeps limits.maxExpressionCost within the installation maximum', () => {
    const limits = { ...DEFAULT_EXPRESSION_LIMITS, maxCost: 5_000 };
    const over = validateDefinitionSpec({ ...validSpec, limits: { maxExpressionCost: 5_001 } }, { limits });
    expect(over.ok ? [] : over.errors).toEqual([
      expect.objectContaining({ path: 'limits.maxExpressionCost', code: 'limit_too_high' }),
    ]);
    expect(validateDefinitionSpec({ ...validSpec, limits: { maxExpressionCost: 5_000 } }, { limits }).ok).toBe(true);
    // A definition saved under a higher maximum still loads; its run-time budget is capped.
    expect(
      validateDefinitionSpec({ ...validSpec, limits: { maxExpressionCost: 5_001 } }, { limits, stored: true }).ok,
    ).toBe(true);
  });

  it('gives line and column for CEL syntax errors', () => {
    const [error] = errorsOf({ ...validSpec, rules: [{ name: 'r', when: 'true &&\n  (' }] });
    expect(error?.message).toMatch(/line 2, column \d+/);
  });
});

describe('definitionJsonSchema', () => {
  it('describes the format, with defaults and the trigger union', () => {
    const schema = definitionJsonSchema();
    expect(schema.$schema).toContain('json-schema.org');
    const props = (schema as { properties: Record<string, unknown> }).properties;
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining(['key', 'name', 'trigger', 'contextSources', 'rules', 'taskTemplates', 'limits']),
    );
    expect(JSON.stringify(schema)).toContain('fire_once');
    expect((schema as { required: string[] }).required).toEqual(
      expect.arrayContaining(['key', 'name', 'trigger', 'taskTemplates']),
    );
  });

  it('allows no unnamed properties on objects, but keeps free-form values and records open', () => {
    const schema = definitionJsonSchema() as {
      additionalProperties?: unknown;
      properties: Record<string, { items?: { additionalProperties?: unknown; properties?: Record<string, unknown> } }>;
    };
    expect(schema.additionalProperties).toBe(false);
    const template = schema.properties.taskTemplates?.items;
    expect(template?.additionalProperties).toBe(false);
    // `payload` is any JSON: no object constraint at all.
    expect(JSON.stringify(template?.properties?.payload)).not.toContain('additionalProperties');
  });
});

describe('cel wrapper', () => {
  it('maps JSON integers to int and results back to JSON', () => {
    const p = compileExpression(
      '{"n": event.count + 1, "xs": event.items.map(i, i * 2), "t": timestamp("2025-01-01T00:00:00Z")}',
      eventFilterEnvironment,
    );
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(evaluate(p.program, { event: toCelValue({ count: 2, items: [1, 2] }) })).toMatchObject({
      ok: true,
      value: { n: 3, xs: [2, 4], t: '2025-01-01T00:00:00.000Z' },
    });
  });

  it('reports evaluation errors with a position instead of throwing', () => {
    const p = compileExpression('event.missing.x == 1', eventFilterEnvironment);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    const r = evaluate(p.program, { event: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('evaluation');
  });

  it('has now as a timestamp in the rule environment', () => {
    const p = compileExpression('now > timestamp("2020-01-01T00:00:00Z")', ruleEnvironment, { expect: ['bool'] });
    expect(p.ok).toBe(true);
  });
});

describe('save-time typing', () => {
  const withFilter = (filter: string) => ({
    ...validSpec,
    trigger: { kind: 'event', event: { types: ['order.created'], filter } },
  });
  const withTemplate = (fields: Record<string, unknown>) => ({
    ...validSpec,
    taskTemplates: [{ key: 'call', title: 'Call', ...fields }],
  });

  it.each([
    [withFilter('event.id'), 'trigger.event.filter', 'has type string, expected bool'],
    [withFilter('event.causationdepth'), 'trigger.event.filter', 'has type int, expected bool'],
    [withFilter('event.nosuch == "x"'), 'trigger.event.filter', 'No such key: nosuch'],
    [{ ...validSpec, rules: [{ name: 'r', when: 'event.type' }] }, 'rules[0].when', 'has type string'],
    [withTemplate({ when: 'size(event.id)' }), 'taskTemplates[0].when', 'has type int, expected bool'],
    [withTemplate({ title: '{{ [1, 2] }}' }), 'taskTemplates[0].title', 'expected a value that renders as text'],
    [withTemplate({ assignee: '{{ {"a": 1} }}' }), 'taskTemplates[0].assignee', 'renders as text'],
    [withTemplate({ dedupeKey: '{{ null }}' }), 'taskTemplates[0].dedupeKey', 'has type null'],
    [withTemplate({ labels: '{{ {"a": 1} }}' }), 'taskTemplates[0].labels', 'expected text or a list of text'],
    [withTemplate({ due: 'event.causationdepth + 1' }), 'taskTemplates[0].due', 'has type int'],
    [
      { ...validSpec, contextSources: [{ name: 'h', kind: 'http', url: '{{ [1] }}' }] },
      'contextSources[0].url',
      'renders as text',
    ],
  ])('refuses %#: %s', (spec, path, message) => {
    const errors = errorsOf(spec);
    expect(errors.map((e) => e.path)).toContain(path);
    expect(errors.find((e) => e.path === path)?.message).toContain(message);
  });

  it('names the expression in the error', () => {
    expect(errorsOf(withFilter('event.id'))[0]?.message).toBe('expression "event.id" has type string, expected bool');
  });

  it.each([
    withFilter('event.data.total > 100 && event.type == "order.created"'),
    withFilter('has(event.subject) && event.extensions.tenant == "acme"'),
    withFilter('event.?subject.orValue("") == ""'),
    withTemplate({ title: '{{ event.id }}', description: '{{ event.causationdepth }}', priority: '{{ now }}' }),
    withTemplate({ title: 'Items {{ [1, 2] }}' }),
    withTemplate({ title: '{{ event.data.name }}', labels: '{{ event.data.tags }}' }),
    withTemplate({ labels: ['{{ event.type }}', 'x'], due: 'now + duration("1h")' }),
    withTemplate({ due: '{{ event.data.deadline }}' }),
    withTemplate({ due: '"2030-01-01T00:00:00Z"' }),
  ])('accepts %#', (spec) => {
    expect(errorsOf(spec)).toEqual([]);
  });

  it('loads a stored definition saved before the typing rules: filter, rules and titles are checked at run time', () => {
    for (const spec of [
      withFilter('event.id'),
      withTemplate({ title: '{{ [1, 2] }}' }),
      withFilter('event.nosuch == 1'),
    ]) {
      expect(errorsOf(spec).length).toBeGreaterThan(0);
      expect(validateDefinitionSpec(spec, { stored: true }).ok).toBe(true);
    }
  });

  it('holds static values, bodies, configs and payloads to the input limits, and every string to storable text', () => {
    const limits = { ...DEFAULT_EXPRESSION_LIMITS, input: { maxDepth: 2, maxListElements: 3, maxBytes: 64 } };
    const spec = (overrides: Record<string, unknown>) => ({ ...validSpec, ...overrides });
    const check = (input: unknown) => {
      const r = validateDefinitionSpec(input, { limits });
      return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.code}`);
    };
    expect(check(spec({ contextSources: [{ name: 'a', kind: 'static', value: [[1]] }] }))).toEqual([]);
    expect(check(spec({ contextSources: [{ name: 'a', kind: 'static', value: [[[1]]] }] }))).toEqual([
      'contextSources[0].value[0][0]: value_too_deep',
    ]);
    expect(check(spec({ contextSources: [{ name: 'a', kind: 'static', value: [1, 2, 3, 4] }] }))).toEqual([
      'contextSources[0].value: value_too_large',
    ]);
    expect(check(withTemplate({ payload: { a: 'x\u0000' } }))).toEqual([
      'taskTemplates[0].payload.a: value_unsupported',
    ]);
    expect(check(spec({ name: 'bad\u0000name' }))).toEqual(['name: value_unsupported']);
    expect(validateDefinitionSpec(spec({ name: 'bad\u0000name' }), { stored: true }).ok).toBe(true);
  });
});

describe('compileStoredDefinition', () => {
  it('compiles a spec object once per limits; another spec object or other limits compile again', () => {
    const parse = () => {
      const r = validateDefinitionSpec(validSpec);
      if (!r.ok) throw new Error('valid spec refused');
      return r.spec;
    };
    const spec = parse();
    const first = compileStoredDefinition(spec);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.compiled.templates[0]?.title).toBeDefined();
    expect(compileStoredDefinition(spec)).toBe(first);
    const other = compileStoredDefinition(parse());
    expect(other).not.toBe(first);
    expect(other.ok).toBe(true);
    const tighter = { ...DEFAULT_EXPRESSION_LIMITS, maxCost: DEFAULT_EXPRESSION_LIMITS.maxCost - 1 };
    const again = compileStoredDefinition(spec, tighter);
    expect(again).not.toBe(first);
    expect(compileStoredDefinition(spec, tighter)).toBe(again);
  });
});
