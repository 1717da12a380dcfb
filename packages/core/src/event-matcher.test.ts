import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileExpression, evaluate, eventFilterEnvironment, formatCelError, toCelValue } from './cel.ts';
import { DEFAULT_EXPRESSION_LIMITS, expressionBudget } from './cel-limits.ts';
import type { EventEnvelope } from './envelope.ts';
import {
  buildMatcher,
  createDefinitionMatcher,
  type FilterFailure,
  type MatchableDefinition,
  type MatchOutcome,
} from './event-matcher.ts';
import { matchesSourcePattern, matchesTypePattern, typePatternError } from './event-trigger.ts';

const envelope = (type: string, source = 'urn:shop', data: unknown = {}): EventEnvelope => ({
  specversion: '1.0',
  id: '1',
  source,
  type,
  data,
  causationdepth: 0,
});

const def = (id: string, trigger: MatchableDefinition['trigger'], maxExpressionCost?: number): MatchableDefinition => ({
  id,
  version: 1,
  key: id,
  trigger,
  ...(maxExpressionCost !== undefined ? { maxExpressionCost } : {}),
});

describe('type patterns', () => {
  it.each([
    ['order.created', 'order.created', true],
    ['order.created', 'order.updated', false],
    ['order.*', 'order.created', true],
    ['order.*', 'order.created.v2', false],
    ['order.*', 'order', false],
    ['*.created', 'invoice.created', true],
    ['order.>', 'order.created', true],
    ['order.>', 'order.created.v2', true],
    ['order.>', 'order', false],
    ['>', 'anything.at.all', true],
    ['a.*.c.>', 'a.b.c.d.e', true],
  ])('%s vs %s -> %s', (pattern, type, expected) => {
    expect(matchesTypePattern(pattern, type)).toBe(expected);
  });

  it.each(['a..b', '.a', 'a.>.b', 'a.b*', 'a b', ''])('rejects pattern %j', (pattern) => {
    expect(typePatternError(pattern)).toBeDefined();
  });

  it('source globs', () => {
    expect(matchesSourcePattern('urn:shop:*', 'urn:shop:eu')).toBe(true);
    expect(matchesSourcePattern('urn:shop:*', 'urn:shop')).toBe(false);
    expect(matchesSourcePattern('https://*/orders/*', 'https://a.example/orders/7')).toBe(true);
    expect(matchesSourcePattern('a*a', 'a')).toBe(false);
    expect(matchesSourcePattern('exact', 'exact')).toBe(true);
  });
});

describe('buildMatcher', () => {
  const defs = [
    def('exact', { types: ['order.created'] }),
    def('star', { types: ['order.*'] }),
    def('tail', { types: ['order.>'], source: 'urn:shop*' }),
    def('filtered', { types: ['order.created'], filter: 'event.data.total > 100' }),
    def('other', { types: ['invoice.paid', 'invoice.sent'] }),
    def('broken', { types: ['order.created'], filter: 'event.data.total >' }),
  ];
  const matcher = buildMatcher(defs);

  it('matches by type, source and filter, in input order', () => {
    expect(matcher.match(envelope('order.created', 'urn:shop', { total: 150 })).matched.map((m) => m.id)).toEqual([
      'exact',
      'star',
      'tail',
      'filtered',
    ]);
    expect(matcher.match(envelope('order.created', 'urn:other', { total: 5 })).matched.map((m) => m.id)).toEqual([
      'exact',
      'star',
    ]);
    expect(matcher.match(envelope('invoice.sent')).matched.map((m) => m.id)).toEqual(['other']);
    expect(matcher.match(envelope('shipment.sent'))).toEqual({ matched: [], failed: [] });
  });

  it('explains every non-match', () => {
    const explained = matcher.explain(envelope('order.created', 'urn:other', { total: 5 }));
    expect(explained.map(({ definitionId, matched, reason }) => ({ definitionId, matched, reason }))).toEqual([
      { definitionId: 'exact', matched: true, reason: undefined },
      { definitionId: 'star', matched: true, reason: undefined },
      { definitionId: 'tail', matched: false, reason: 'source' },
      { definitionId: 'filtered', matched: false, reason: 'filter' },
      { definitionId: 'other', matched: false, reason: 'type' },
      { definitionId: 'broken', matched: false, reason: 'filter_error' },
    ]);
    expect(matcher.errors.map((e) => e.definitionId)).toEqual(['broken']);
    const runtime = buildMatcher([def('f', { types: ['a'], filter: 'event.data.missing == 1' })]).explain(
      envelope('a'),
    );
    expect(runtime[0]).toMatchObject({ matched: false, reason: 'filter_error' });
  });

  it('agrees with a brute-force scan, and only touches candidates', () => {
    const tokens = fc.constantFrom('a', 'b', 'c');
    const pattern = fc
      .tuple(fc.array(fc.oneof(tokens, fc.constant('*')), { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([ts, tail]) => (tail ? [...ts, '>'] : ts).join('.'));
    fc.assert(
      fc.property(
        fc.array(fc.array(pattern, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 20 }),
        fc.array(tokens, { minLength: 1, maxLength: 5 }).map((t) => t.join('.')),
        (patterns, type) => {
          const m = buildMatcher(patterns.map((types, i) => def(`d${i}`, { types })));
          const expected = patterns.flatMap((types, i) =>
            types.some((p) => matchesTypePattern(p, type)) ? [`d${i}`] : [],
          );
          expect(m.match(envelope(type)).matched.map((x) => x.id)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('does not evaluate filters of definitions whose types cannot match', () => {
    // 5000 definitions with filters that would fail at run time; none has the event's type.
    const many = Array.from({ length: 5000 }, (_, i) =>
      def(`n${i}`, { types: [`noise${i}.created`], filter: 'event.data.x.y == 1' }),
    );
    const m = buildMatcher([...many, def('hit', { types: ['order.created'] })]);
    expect(m.match(envelope('order.created')).matched.map((x) => x.id)).toEqual(['hit']);
  });
});

// The index must never change an answer: the plain evaluator is every definition's type
// patterns, source glob and whole filter, evaluated one by one within the definition's budget;
// a filter that does not compile, errors, yields no bool or runs out of budget is a failure.
const plainPrograms = new Map<string, ReturnType<typeof compileExpression>>();
function plainMatch(definitions: readonly MatchableDefinition[], event: EventEnvelope): MatchOutcome {
  const celEvent = toCelValue(event);
  const outcome: MatchOutcome = { matched: [], failed: [] };
  for (const d of definitions) {
    if (!d.trigger.types.some((p) => matchesTypePattern(p, event.type))) continue;
    if (d.trigger.source !== undefined && !matchesSourcePattern(d.trigger.source, event.source)) continue;
    const { id, version, key } = d;
    const fail = (code: FilterFailure['code'], message: string) =>
      outcome.failed.push({ id, version, key, code, message });
    const filter = d.trigger.filter;
    if (filter !== undefined) {
      let compiled = plainPrograms.get(filter);
      if (!compiled) {
        compiled = compileExpression(filter, eventFilterEnvironment, { expect: ['bool'] });
        plainPrograms.set(filter, compiled);
      }
      if (!compiled.ok) {
        fail(compiled.error.code, formatCelError(compiled.error));
        continue;
      }
      const budget = expressionBudget(d.maxExpressionCost, DEFAULT_EXPRESSION_LIMITS);
      const result = evaluate(compiled.program, { event: celEvent }, { budget });
      if (!result.ok) {
        fail(result.error.code, formatCelError(result.error));
        continue;
      }
      if (typeof result.value !== 'boolean') {
        fail('not_bool', 'filter did not yield a bool');
        continue;
      }
      if (!result.value) continue;
    }
    outcome.matched.push({ id, version, key });
  }
  return outcome;
}

const PATHS = [
  'event.data.tenant',
  "event.data['tenant']",
  'event.data.region',
  'event.data.nested.k',
  'event.source',
  'event.subject',
  'event.type',
];
const STRINGS = ['acme', 'globex', 'x'];
const literal = fc.oneof(
  fc.constantFrom(...STRINGS).map((s) => `'${s}'`),
  fc.constantFrom('1', '2', '-3', 'true', 'false', '1.0', 'null', "b'acme'", '1u'),
);
const path = fc.constantFrom(...PATHS);
const conjunct = fc.oneof(
  fc.tuple(path, literal).map(([p, l]) => `${p} == ${l}`),
  fc.tuple(path, literal).map(([p, l]) => `${l} == ${p}`),
  // Parenthesized operands: the parser's ranges leave their parentheses out.
  fc.tuple(path, literal).map(([p, l]) => `(${p}) == (${l})`),
  fc.tuple(path, literal).map(([p, l]) => `((${p} == ${l}))`),
  fc.tuple(path, fc.array(literal, { maxLength: 3 })).map(([p, ls]) => `${p} in [${ls.join(', ')}]`),
  fc.tuple(path, literal, literal).map(([p, a, b]) => `(${p} == ${a} || ${p} == ${b})`),
  fc.tuple(path, path, literal, literal).map(([p, q, a, b]) => `${p} == ${a} || ${q} == ${b}`),
  fc.tuple(path, literal).map(([p, l]) => `${p} != ${l}`),
  fc.tuple(path, literal).map(([p, l]) => `!(${p} == ${l})`),
  fc.constantFrom('event.data.n > 1', 'has(event.data.tenant)', 'true', 'false', 'event.data.flag'),
  // Remainders that fail: an evaluation error on most events, a type error at compile time,
  // and work that outgrows a small budget.
  fc.constantFrom(
    'event.data.nested.k.z == 1',
    'event.data.n + 1 > 2',
    "1 + 'x' == 2",
    '[1, 2, 3, 4, 5, 6, 7, 8].all(i, i > 0)',
    "event.data.tenant.startsWith('a')",
  ),
);
const filter = fc.array(conjunct, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(' && '));
const trigger = fc.record(
  {
    types: fc.array(fc.constantFrom('a.b', 'a.*', 'a.>', 'c', '*.b'), { minLength: 1, maxLength: 2 }),
    source: fc.constantFrom('urn:x', 'urn:y', 'urn:*'),
    filter,
  },
  { requiredKeys: ['types'] },
);
/** Budgets from below the cost of one conjunct to the default (undefined). */
const budget = fc.option(fc.constantFrom(1, 4, 6, 8, 12, 20, 40, 100), { nil: undefined });
/** A value of every kind a filter might meet, or absent. */
const value = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.constantFrom(1, 2, -3, 1.5, 2 ** 60),
  fc.boolean(),
  fc.constant(null),
  fc.constant(['acme']),
  fc.constant({ tenant: 'acme' }),
);
const data = fc.oneof(
  fc.record(
    { tenant: value, region: value, n: value, flag: value, nested: fc.oneof(value, fc.record({ k: value })) },
    { requiredKeys: [] },
  ),
  fc.constantFrom('acme', 7, null),
);
const event = fc
  .record({
    type: fc.constantFrom('a.b', 'a.c', 'a.b.c', 'c', 'x.b'),
    source: fc.constantFrom('urn:x', 'urn:y', 'urn:z'),
    subject: fc.option(fc.constantFrom(...STRINGS), { nil: undefined }),
    data: fc.option(data, { nil: undefined }),
  })
  .map(
    ({ subject, data: d, ...rest }): EventEnvelope => ({
      specversion: '1.0',
      id: 'e',
      causationdepth: 0,
      ...rest,
      ...(subject !== undefined ? { subject } : {}),
      ...(d !== undefined ? { data: d } : {}),
    }),
  );

describe('filter index', () => {
  it('gives the plain evaluator’s answers on random definitions and events', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(trigger, budget), { minLength: 1, maxLength: 12 }),
        fc.array(event, { minLength: 1, maxLength: 5 }),
        (triggers, events) => {
          const definitions = triggers.map(([t, b], i) => def(`d${i}`, t, b));
          const matcher = buildMatcher(definitions);
          for (const e of events) {
            const expected = plainMatch(definitions, e);
            expect(matcher.match(e)).toEqual(expected);
            const explained = matcher.explain(e);
            expect(explained.filter((x) => x.matched).map((x) => x.definitionId)).toEqual(
              expected.matched.map((m) => m.id),
            );
            expect(
              explained.filter((x) => x.reason === 'filter_error').map((x) => [x.definitionId, x.errorCode, x.detail]),
            ).toEqual(expected.failed.map((f) => [f.id, f.code, f.message]));
          }
        },
      ),
      { numRuns: 400 },
    );
  }, 60_000);

  it('changed one at a time, answers as if built from scratch', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('upsert' as const), id: fc.integer({ min: 0, max: 6 }), trigger, budget }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 6 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 30 }),
        fc.array(event, { minLength: 1, maxLength: 4 }),
        (ops, events) => {
          const matcher = createDefinitionMatcher();
          const current = new Map<string, MatchableDefinition>();
          for (const o of ops) {
            const id = `d${o.id}`;
            if (o.kind === 'upsert') {
              matcher.upsert(def(id, o.trigger, o.budget));
              current.set(id, def(id, o.trigger, o.budget));
            } else {
              expect(matcher.remove(id)).toBe(current.delete(id));
            }
          }
          expect(matcher.size).toBe(current.size);
          const fresh = [...current.values()];
          for (const e of events) expect(matcher.match(e)).toEqual(plainMatch(fresh, e));
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it('evaluates only the definitions whose indexed value the event has', () => {
    const matcher = createDefinitionMatcher(
      Array.from({ length: 5000 }, (_, i) =>
        def(`t${i}`, {
          types: ['order.created'],
          filter: `event.data.tenant == 'tenant-${i}' && event.data.total > 10`,
        }),
      ),
    );
    const before = matcher.evaluations;
    const none = { matched: [], failed: [] };
    expect(
      matcher.match(envelope('order.created', 'urn:shop', { tenant: 'tenant-42', total: 11 })).matched.map((m) => m.id),
    ).toEqual(['t42']);
    expect(matcher.evaluations - before).toBe(1);
    // A value no literal equals (null; `==` across kinds is false, not an error): nothing runs.
    expect(matcher.match(envelope('order.created', 'urn:shop', { tenant: null, total: 11 }))).toEqual(none);
    expect(matcher.match(envelope('order.created', 'urn:shop', { tenant: [1], total: 11 }))).toEqual(none);
    expect(matcher.evaluations - before).toBe(1);
    // A double equals no string literal either.
    expect(matcher.match(envelope('order.created', 'urn:shop', { tenant: 1.5, total: 11 }))).toEqual(none);
    expect(matcher.evaluations - before).toBe(1);
    // The index cannot compare a double with an int literal (`1.0 == 1`): those filters decide.
    const ints = createDefinitionMatcher([def('one', { types: ['t'], filter: 'event.data.n == 1' })]);
    expect(ints.match(envelope('t', 'urn:s', { n: 1.5 }))).toEqual(none);
    expect(ints.match(envelope('t', 'urn:s', { n: 2 ** 60 }))).toEqual(none);
    expect(ints.evaluations).toBe(2);
  }, 30_000);

  it('a missing indexed field is an error of the conjunct: the whole filter decides between no and failed', () => {
    const matcher = createDefinitionMatcher([
      def('rest-true', { types: ['t'], filter: "event.data.tenant == 'acme' && event.data.total > 10" }),
      def('rest-false', { types: ['t'], filter: "event.data.tenant == 'globex' && event.data.total > 100" }),
      def('alone', { types: ['t'], filter: "event.data.tenant in ['acme', 'initech']" }),
    ]);
    const outcome = matcher.match(envelope('t', 'urn:s', { total: 50 }));
    expect(outcome.matched).toEqual([]);
    // `error && true` is the error, `error && false` is false (CEL's commutative `&&`).
    expect(outcome.failed.map((f) => [f.id, f.code, f.message])).toEqual([
      ['rest-true', 'evaluation', expect.stringMatching(/No such key: tenant/)],
      ['alone', 'evaluation', expect.stringMatching(/No such key: tenant/)],
    ]);
    expect(matcher.evaluations).toBe(3);
  });

  it('a remainder that fails, or outgrows the budget less its conjunct, is the whole filter’s failure', () => {
    const all = '[1, 2, 3, 4, 5, 6, 7, 8].all(i, i > 0)';
    const probe = compileExpression(all, eventFilterEnvironment);
    if (!probe.ok) throw new Error('probe does not compile');
    const restCost = evaluate(probe.program, {}).cost;
    const wholeCost = evaluate(
      (() => {
        const c = compileExpression(`event.data.tenant == 'acme' && ${all}`, eventFilterEnvironment);
        if (!c.ok) throw new Error('whole does not compile');
        return c.program;
      })(),
      { event: toCelValue(envelope('t', 'urn:s', { tenant: 'acme' })) },
    ).cost;
    expect(wholeCost).toBeGreaterThan(restCost);
    const matcher = createDefinitionMatcher([
      // The remainder alone fits this budget; the whole filter does not.
      def('tight', { types: ['t'], filter: `event.data.tenant == 'acme' && ${all}` }, wholeCost - 1),
      def('fits', { types: ['t'], filter: `event.data.tenant == 'acme' && ${all}` }, wholeCost),
      def('errors', { types: ['t'], filter: "event.data.tenant == 'acme' && event.data.total.x > 1" }),
    ]);
    const outcome = matcher.match(envelope('t', 'urn:s', { tenant: 'acme', total: 5 }));
    expect(outcome.matched.map((m) => m.id)).toEqual(['fits']);
    expect(outcome.failed.map((f) => [f.id, f.code])).toEqual([
      ['tight', 'budget'],
      ['errors', 'evaluation'],
    ]);
    // The message has the positions of the filter as written, not of its remainder.
    expect(outcome.failed[1]?.message).toMatch(/column 49\)/);
  }, 30_000);

  it('keys `in` lists, same-path disjunctions and exact sources; leaves the rest of the filter to CEL', () => {
    const matcher = createDefinitionMatcher([
      def('list', { types: ['t'], filter: "event.data.region in ['eu', 'us'] && event.data.n > 1" }),
      def('or', { types: ['t'], filter: "event.data.region == 'eu' || event.data.region == 'ap'" }),
      def('source', { types: ['t'], source: 'urn:a', filter: 'event.data.n > 1' }),
      def('int', { types: ['t'], filter: 'event.data.n == 2' }),
    ]);
    const ids = (source: string, data: unknown) => matcher.match(envelope('t', source, data)).matched.map((m) => m.id);
    expect(ids('urn:a', { region: 'eu', n: 2 })).toEqual(['list', 'or', 'source', 'int']);
    expect(ids('urn:b', { region: 'us', n: 2 })).toEqual(['list', 'int']);
    expect(ids('urn:b', { region: 'ap', n: 1 })).toEqual(['or']);
    expect(ids('urn:b', { region: 'us', n: 2.5 })).toEqual(['list']);
  });

  it('explain still names the check that said no, with the positions of the filter as written', () => {
    const matcher = createDefinitionMatcher([
      def('keyed', { types: ['t'], filter: "event.data.tenant == 'acme' && event.data.total > 10" }),
      def('broken', { types: ['t'], filter: "event.data.tenant == 'acme' && event.data.total.x > 10" }),
    ]);
    const explained = matcher.explain(envelope('t', 'urn:s', { tenant: 'globex', total: 50 }));
    expect(explained.map(({ definitionId, reason }) => ({ definitionId, reason }))).toEqual([
      { definitionId: 'keyed', reason: 'filter' },
      { definitionId: 'broken', reason: 'filter' },
    ]);
    const failing = matcher.explain(envelope('t', 'urn:s', { tenant: 'acme', total: 50 }));
    expect(failing[0]).toMatchObject({ matched: true });
    expect(failing[1]).toMatchObject({ matched: false, reason: 'filter_error' });
    expect(failing[1]?.detail).toMatch(/column/);
  });

  it('upsert keeps a definition’s place; remove prunes what only it used', () => {
    const matcher = createDefinitionMatcher([def('a', { types: ['x.y'] }), def('b', { types: ['x.*'] })]);
    matcher.upsert(def('a', { types: ['x.>'], filter: "event.source == 'urn:s'" }));
    expect(matcher.match(envelope('x.y', 'urn:s')).matched.map((m) => m.id)).toEqual(['a', 'b']);
    expect(matcher.explain(envelope('q')).map((e) => e.definitionId)).toEqual(['a', 'b']);
    expect(matcher.remove('a')).toBe(true);
    expect(matcher.remove('a')).toBe(false);
    expect(matcher.match(envelope('x.y.z', 'urn:s'))).toEqual({ matched: [], failed: [] });
    expect(matcher.size).toBe(1);
  });
});

describe('windowed definitions', () => {
  it("carry the event's window key, or why it has none, beside the match", () => {
    const window = { mode: 'batch' as const, key: 'event.data.orderId', duration: 'PT1M' };
    const matcher = buildMatcher([
      def('plain', { types: ['order.created'] }),
      def('windowed', { types: ['order.created'], window }),
    ]);
    const [plain, windowed] = matcher.match(envelope('order.created', 'urn:shop', { orderId: 'o-1' })).matched;
    expect(plain).toEqual({ id: 'plain', version: 1, key: 'plain' });
    expect(windowed?.window).toMatchObject({ ok: true, key: 'o-1' });
    const [, unkeyed] = matcher.match(envelope('order.created', 'urn:shop', { orderId: 42 })).matched;
    expect(unkeyed?.window).toMatchObject({ ok: false, code: 'not_string' });
  });

  it("evaluate the key under the definition's budget, one budget for the filter and one for the key", () => {
    const key = 'event.data.xs.all(x, event.data.xs.all(y, x + y >= 0)) ? "k" : "k"';
    const window = { mode: 'batch' as const, key, duration: 'PT1M' };
    const xs = Array.from({ length: 300 }, (_, i) => i);
    const filter = 'event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))';
    const matcher = buildMatcher([
      { ...def('tight', { types: ['order.created'], window }), maxExpressionCost: 10_000 },
      // The filter and the key each get the definition's whole budget.
      { ...def('roomy', { types: ['order.created'], filter, window }), maxExpressionCost: 1_000_000 },
    ]);
    const outcome = matcher.match(envelope('order.created', 'urn:shop', { xs }));
    expect(outcome.failed).toEqual([]);
    const [tight, roomy] = outcome.matched;
    expect(tight?.window).toMatchObject({ ok: false, code: 'budget', message: expect.stringContaining('10000') });
    expect(roomy?.window).toMatchObject({ ok: true, key: 'k' });
  });

  it('park a failing filter as a filter failure, not as a key failure', () => {
    const window = { mode: 'batch' as const, key: 'event.data.orderId', duration: 'PT1M' };
    const matcher = buildMatcher([def('windowed', { types: ['order.created'], filter: 'event.data.n > 1', window })]);
    const outcome = matcher.match(envelope('order.created', 'urn:shop', { orderId: 'o-1', n: 'x' }));
    expect(outcome.matched).toEqual([]);
    expect(outcome.failed).toEqual([expect.objectContaining({ id: 'windowed', code: 'evaluation' })]);
    expect(outcome.failed[0]).not.toHaveProperty('window');
  });

  it('keep their key through incremental changes: upsert changes or drops it, remove forgets it', () => {
    const batch = (key: string) => ({ mode: 'batch' as const, key, duration: 'PT1M' });
    // Keyed on an equality conjunct like any other definition: the index still decides who runs.
    const filter = "event.data.tenant == 'acme'";
    const matcher = createDefinitionMatcher([
      def('w', { types: ['order.created'], filter, window: batch('event.data.orderId') }),
      def('plain', { types: ['order.*'] }),
    ]);
    const acme = envelope('order.created', 'urn:shop', { tenant: 'acme', orderId: 'o-1', customer: 'c-9' });
    expect(matcher.match(acme).matched).toEqual([
      expect.objectContaining({ id: 'w', window: expect.objectContaining({ ok: true, key: 'o-1' }) }),
      { id: 'plain', version: 1, key: 'plain' },
    ]);
    expect(matcher.match(envelope('order.created', 'urn:shop', { tenant: 'globex', orderId: 'o-1' })).matched).toEqual([
      { id: 'plain', version: 1, key: 'plain' },
    ]);
    matcher.upsert({
      ...def('w', { types: ['order.created'], filter, window: batch('event.data.customer') }),
      version: 2,
    });
    expect(matcher.match(acme).matched[0]).toMatchObject({ id: 'w', version: 2, window: { ok: true, key: 'c-9' } });
    matcher.upsert({ ...def('w', { types: ['order.created'], filter }), version: 3 });
    expect(matcher.match(acme).matched[0]).toEqual({ id: 'w', version: 3, key: 'w' });
    matcher.upsert({
      ...def('w', { types: ['order.created'], filter, window: batch('event.data.orderId') }),
      version: 4,
    });
    expect(matcher.remove('w')).toBe(true);
    expect(matcher.match(acme).matched).toEqual([{ id: 'plain', version: 1, key: 'plain' }]);
  });

  it('fail every keyed event of a key that does not compile (an old definition under new limits), not the match', () => {
    const matcher = buildMatcher([
      def('w', { types: ['t'], window: { mode: 'batch', key: 'event.data.', duration: 'PT1M' } }),
    ]);
    const [w] = matcher.match(envelope('t', 'urn:s', { orderId: 'o-1' })).matched;
    expect(w?.window).toMatchObject({
      ok: false,
      code: 'evaluation',
      message: expect.stringContaining('does not compile'),
    });
  });
});
