import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from './envelope.ts';
import { buildMatcher, type MatchableDefinition } from './event-matcher.ts';
import { matchesSourcePattern, matchesTypePattern, typePatternError } from './event-trigger.ts';

const envelope = (type: string, source = 'urn:shop', data: unknown = {}): EventEnvelope => ({
  specversion: '1.0',
  id: '1',
  source,
  type,
  data,
  causationdepth: 0,
});

const def = (id: string, trigger: MatchableDefinition['trigger']): MatchableDefinition => ({
  id,
  version: 1,
  key: id,
  trigger,
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
