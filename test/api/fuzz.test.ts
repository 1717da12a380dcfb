import { appRouter } from '@activity-core/api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  BOOTSTRAP_TOKEN,
  cronSpec,
  errorShapeProblems,
  eventSpec,
  rawCall,
  rawTextCall,
  startTestApi,
  type TestApi,
} from './support.ts';

let api: TestApi;
let definitionId = '';
beforeAll(async () => {
  api = await startTestApi();
  const client = api.client();
  definitionId = (await client.definitions.create.mutate({ spec: eventSpec('fuzz-def') })).id;
  await client.definitions.create.mutate({ spec: cronSpec('fuzz-cron') });
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
});

const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
).map(([path, p]) => ({ path, type: p._def.type as 'query' | 'mutation' }));

// Every input field name the router knows, so random records hit real fields of each procedure.
const FIELDS = [
  'id',
  'definitionId',
  'runId',
  'expectedVersion',
  'spec',
  'enabled',
  'archived',
  'keyPrefix',
  'cursor',
  'limit',
  'cron',
  'from',
  'count',
  'definition',
  'event',
  'version',
  'now',
  'status',
  'triggerKind',
  'createdFrom',
  'createdTo',
  'afterSeq',
  'kinds',
  'idempotencyKey',
  'payload',
  'assignee',
  'labels',
  'dueBefore',
  'reason',
  'by',
  'result',
  'subject',
  'name',
  'scopes',
  'expiresAt',
  'specversion',
  'source',
  'type',
  'data',
] as const;

function value(): fc.Arbitrary<unknown> {
  const scalar = fc.oneof(
    fc.constant(definitionId),
    fc.uuid(),
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('\u0000', 'a\u0000b', '', ' ', '*', '>', 'order.>', 'events.*', '1.0', 'read', 'admin', 'open'),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom('0 9 * * 1-5', '61 * * * *', 'Europe/Berlin', 'Mars/Base', 'event.data.total >', '{{ nobody }}'),
  );
  return fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom(eventSpec('fuzz-x'), cronSpec('fuzz-y'), eventSpec('fuzz-def')) },
    {
      weight: 1,
      arbitrary: fc.record({
        specversion: fc.constantFrom('1.0', '0.3'),
        id: fc.string({ minLength: 1, maxLength: 20 }),
        source: fc.string({ minLength: 1, maxLength: 20 }),
        type: fc.oneof(fc.constant('order.created'), fc.string({ maxLength: 20 })),
        data: fc.jsonValue({ maxDepth: 2 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom({ expression: '0 9 * * 1-5', timezone: 'Europe/Berlin' }, { expression: 'x' }),
    },
  );
}

const input = fc.oneof(
  { weight: 1, arbitrary: fc.anything() },
  { weight: 5, arbitrary: fc.record(Object.fromEntries(FIELDS.map((f) => [f, value()])), { requiredKeys: [] }) },
);

describe('fuzzed inputs never produce a 500', () => {
  test.each(procedures)('$path', async ({ path, type }) => {
    await fc.assert(
      fc.asyncProperty(input, async (body) => {
        const { status, body: answer } = await rawCall(api.trpcUrl, path, type, body, BOOTSTRAP_TOKEN);
        expect(status, JSON.stringify(answer).slice(0, 500)).toBeLessThan(500);
        if (status >= 400) expect(errorShapeProblems(status, answer), JSON.stringify(answer).slice(0, 500)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});

// Hostile JSON, as text (JSON.stringify cannot write 1e400 or 10,000 levels): deep and wide
// values, NUL and unpaired surrogates, numbers out of range, prototype keys, wrong types,
// placed at the top or under a real field of the procedures.
const hostileScalar = fc.constantFrom(
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"x\\udfff"',
  '"\\ude00\\ud83d"',
  '"\\uffff"',
  '"\\u0007\\u001f"',
  '1e400',
  '-1e400',
  '1e308',
  '-0',
  '123456789012345678901234567890',
  '9007199254740993',
  '0.1e-400',
  'true',
  'null',
  '[]',
  '{}',
  '""',
  '"2026-02-30T00:00:00Z"',
  '"2016-12-31T23:59:60Z"',
);
const hostileValue: fc.Arbitrary<string> = fc.oneof(
  hostileScalar,
  fc.integer({ min: 60, max: 12_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 60, max: 3_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  fc.integer({ min: 990, max: 3_000 }).map((n) => `[${Array.from({ length: n }, () => '0').join(',')}]`),
  fc.integer({ min: 990, max: 3_000 }).map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}}`),
  fc.integer({ min: 250 * 1024, max: 300 * 1024 }).map((n) => `"${'s'.repeat(n)}"`),
  hostileScalar.map((v) => `{"__proto__":${v}}`),
  hostileScalar.map((v) => `{"constructor":{"prototype":${v}},"toString":${v}}`),
  hostileScalar.map((v) => `[${v},{"__proto__":{"admin":true}}]`),
);
const hostileInput: fc.Arbitrary<string> = fc.oneof(
  hostileValue,
  fc
    .uniqueArray(fc.constantFrom(...FIELDS), { minLength: 1, maxLength: 3 })
    .chain((fields) =>
      fc
        .tuple(...fields.map(() => hostileValue))
        .map((values) => `{${fields.map((f, i) => `${JSON.stringify(f)}:${values[i]}`).join(',')}}`),
    ),
  hostileValue.map(
    (v) =>
      `{"spec":${JSON.stringify(eventSpec('fuzz-h')).slice(0, -1)},"contextSources":[{"name":"s","kind":"static","value":${v}}]}}`,
  ),
  hostileValue.map((v) => `{"specversion":"1.0","id":"i","source":"s","type":"order.created","data":${v}}`),
  hostileValue.map((v) => `{"id":"00000000-0000-7000-8000-000000000000","result":${v}}`),
);

describe('hostile inputs never produce a 500, and every error has the documented shape', () => {
  test.each(procedures)('$path', async ({ path, type }) => {
    await fc.assert(
      fc.asyncProperty(hostileInput, async (text) => {
        const { status, body } = await rawTextCall(api.trpcUrl, path, type, text, BOOTSTRAP_TOKEN);
        const shown = `${text.slice(0, 120)} → ${status} ${JSON.stringify(body).slice(0, 400)}`;
        expect(status, shown).toBeLessThan(500);
        if (status >= 400) expect(errorShapeProblems(status, body), shown).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});

describe('bounded input, named fields', () => {
  const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  test.each(procedures)(
    '$path: 10,000 levels are a 400 naming the field, before any parser recurses',
    async ({ path, type }) => {
      // Queries carry their input in the URL: 100 levels keep it under the header limit.
      const depth = type === 'query' ? 100 : 10_000;
      const { status, body } = await rawTextCall(api.trpcUrl, path, type, `{"id":${deep(depth)}}`, BOOTSTRAP_TOKEN);
      expect(status, JSON.stringify(body).slice(0, 300)).toBe(400);
      expect(errorShapeProblems(status, body)).toEqual([]);
      expect(body.error?.data.fieldErrors?.[0]?.path).toMatch(/^id(\[0\])+$/);
      expect(body.error?.data.fieldErrors?.[0]?.message).toContain('nested too deep');
    },
  );

  test('events.publish holds data to the limit exactly as ingest does, and refuses what ingest would dead-letter', async () => {
    const event = (data: string, extra = '') =>
      `{"specversion":"1.0","id":"b-${Math.random()}","source":"urn:t","type":"order.created"${extra},"data":${data}}`;
    const publish = (text: string) => rawTextCall(api.trpcUrl, 'events.publish', 'mutation', text, BOOTSTRAP_TOKEN);
    expect((await publish(event(deep(64)))).status).toBe(200);
    const over = await publish(event(deep(65)));
    expect(over.status).toBe(400);
    expect(over.body.error?.data.fieldErrors?.[0]).toEqual({
      path: `data${'[0]'.repeat(64)}`,
      message: 'nested deeper than 64 levels',
    });
    for (const [extra, data, field] of [
      [',"time":"2026-02-30T00:00:00Z"', '{}', 'time'],
      [',"time":"2016-12-31T23:59:60Z"', '{}', 'time'],
      [',"subject":"a\\u0007"', '{}', 'subject'],
      ['', '{"a":"\\u0000"}', 'data.a'],
      ['', '{"a":"\\ud800"}', 'data.a'],
      ['', '{"n":1e400}', 'data.n'],
      ['', `[${Array.from({ length: 1001 }, () => '0').join(',')}]`, 'data'],
    ] as const) {
      const r = await publish(event(data, extra));
      expect(r.status, `${extra} ${data.slice(0, 40)}`).toBe(400);
      expect(r.body.error?.data.fieldErrors?.map((f) => f.path)).toContain(field);
    }
    const type = await rawCall(
      api.trpcUrl,
      'events.publish',
      'mutation',
      { specversion: '1.0', id: 'c', source: 's', type: 'x.\u0000' },
      BOOTSTRAP_TOKEN,
    );
    expect(type.status).toBe(400);
    expect(type.body.error?.data.fieldErrors?.map((f) => f.path)).toContain('type');
  });

  test('definitions: a non-bool filter, a title that does not render as text and a deep static value are field errors', async () => {
    const create = (spec: unknown) => rawCall(api.trpcUrl, 'definitions.create', 'mutation', { spec }, BOOTSTRAP_TOKEN);
    const filter = await create(
      eventSpec('typed-filter', { trigger: { kind: 'event', event: { types: ['a'], filter: 'event.id' } } }),
    );
    expect(filter.status).toBe(400);
    expect(filter.body.error?.data.fieldErrors).toEqual([
      { path: 'spec.trigger.event.filter', message: 'expression "event.id" has type string, expected bool' },
    ]);
    const title = await create(eventSpec('typed-title', { taskTemplates: [{ key: 't', title: '{{ [1, 2] }}' }] }));
    expect(title.status).toBe(400);
    expect(title.body.error?.data.fieldErrors?.[0]?.path).toBe('spec.taskTemplates[0].title');
    const value = await rawTextCall(
      api.trpcUrl,
      'definitions.create',
      'mutation',
      `{"spec":${JSON.stringify(eventSpec('deep-value')).slice(0, -1)},"contextSources":[{"name":"s","kind":"static","value":${deep(65)}}]}}`,
      BOOTSTRAP_TOKEN,
    );
    expect(value.status).toBe(400);
    expect(value.body.error?.data.fieldErrors?.[0]?.path).toBe(`spec.contextSources[0].value${'[0]'.repeat(64)}`);
    const nul = await create(eventSpec('nul-name', { name: 'a\u0000' }));
    expect(nul.status).toBe(400);
    expect(nul.body.error?.data.fieldErrors?.[0]?.path).toBe('spec.name');
  });
});
