import { appRouter } from '@activity-core/api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BOOTSTRAP_TOKEN, cronSpec, eventSpec, rawCall, startTestApi, type TestApi } from './support.ts';

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
      }),
      { numRuns: 60 },
    );
  });
});
