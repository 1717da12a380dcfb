import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CompiledExpression, compileExpression, evaluate, eventFilterEnvironment, toCelValue } from './cel.ts';
import type { InputLimits } from './cel-limits.ts';

const HUGE = 1e12;

function compile(source: string, input?: InputLimits): CompiledExpression {
  const compiled = compileExpression(source, eventFilterEnvironment, input ? { input } : {});
  if (!compiled.ok) throw new Error(`${source}: ${compiled.error.message}`);
  return compiled.program;
}

function cost(program: CompiledExpression, data: unknown): number {
  const result = evaluate(program, { event: toCelValue({ data }) }, { budget: HUGE });
  return result.cost;
}

describe('the evaluation budget', () => {
  const cases: Array<[string, unknown]> = [
    ['event.data.n + 1 > 2', { n: 5 }],
    ['event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))', { xs: [1, 2, 3, 4, 5, 6, 7, 8] }],
    ['event.data.xs.map(x, x * 2).filter(y, y > 4).size() == 2', { xs: [1, 2, 3, 4] }],
    ["event.data.s.matches('^(a+)+$')", { s: `${'a'.repeat(30)}!` }],
    ["event.data.s.lowerAscii().contains('q')", { s: 'x'.repeat(5_000) }],
    ['cel.bind(a, event.data.s + event.data.s, cel.bind(b, a + a, b + b)).size() > 0', { s: 'abc' }],
    ["'k' in event.data.m && event.data.m == {'k': [1, 2, 3]}", { m: { k: [1, 2, 3] } }],
    ["event.data.xs.exists(x, x == 'z') || event.data.xs.join(',').startsWith('a')", { xs: ['a', 'b'] }],
  ];

  it.each(cases)('%s: passes with a budget of exactly its cost, fails one unit below', (source, data) => {
    const program = compile(source);
    const exact = cost(program, data);
    expect(exact).toBeGreaterThan(0);
    const vars = { event: toCelValue({ data }) };
    const within = evaluate(program, vars, { budget: exact });
    expect(within.ok, JSON.stringify(within)).toBe(true);
    expect(within.cost).toBe(exact);
    const below = evaluate(program, vars, { budget: exact - 1 });
    expect(below).toMatchObject({ ok: false, error: { code: 'budget' } });
  });

  it('is deterministic: the same input always costs the same', () => {
    const program = compile('event.data.xs.map(x, x.matches(event.data.p)).exists(b, b)');
    const data = { xs: ['aa', 'ab', 'ba'], p: '^a' };
    expect(new Set([1, 2, 3].map(() => cost(program, data))).size).toBe(1);
  });

  it('stops nested comprehensions over a large list at the budget', () => {
    const program = compile('event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))');
    const xs = Array.from({ length: 3_000 }, (_, i) => i);
    const result = evaluate(program, { event: toCelValue({ data: { xs } }) }, { budget: 100_000 });
    expect(result).toMatchObject({ ok: false, error: { code: 'budget' } });
    // Stopped at the first node past the budget, not after the 9 million steps.
    expect(result.cost).toBe(100_001);
  });

  it('cannot be absorbed by || or by a quantifier that forgives errors', () => {
    for (const source of [
      'event.data.xs.all(x, event.data.xs.all(y, x + y >= 0)) || true',
      'true || event.data.xs.all(x, event.data.xs.all(y, x + y >= 0)) || true',
      'event.data.xs.exists(x, event.data.xs.all(y, x + y >= 0) && false) || true',
      '[1, 2].exists(i, event.data.xs.all(x, event.data.xs.all(y, x + y >= 0)) || i == 1)',
    ]) {
      const xs = Array.from({ length: 500 }, (_, i) => i);
      const result = evaluate(compile(source), { event: toCelValue({ data: { xs } }) }, { budget: 10_000 });
      if (source.startsWith('true ||')) expect(result, source).toMatchObject({ ok: true, value: true });
      else expect(result, source).toMatchObject({ ok: false, error: { code: 'budget' } });
    }
  });

  it('charges string work by length, so long strings cannot run unbudgeted', () => {
    const program = compile("event.data.s.upperAscii().split('').size() > 0");
    const short = cost(program, { s: 'a'.repeat(100) });
    const long = cost(program, { s: 'a'.repeat(100_000) });
    expect(long).toBeGreaterThan(short * 500);
    // Doubling a string with cel.bind grows the charge with it.
    const doubling = compile(
      'cel.bind(a, event.data.s + event.data.s, cel.bind(b, a + a, cel.bind(c, b + b, cel.bind(d, c + c, d + d)))).size()',
    );
    expect(evaluate(doubling, { event: toCelValue({ data: { s: 'x'.repeat(50_000) } }) })).toMatchObject({
      ok: true,
    });
    const result = evaluate(doubling, { event: toCelValue({ data: { s: 'x'.repeat(50_000) } }) }, { budget: 100_000 });
    expect(result).toMatchObject({ ok: false, error: { code: 'budget' } });
  });

  it('charges deep equality by the smaller side', () => {
    const program = compile('event.data.a == event.data.b');
    const big = Array.from({ length: 1_000 }, (_, i) => ({ i, tags: ['x', 'y'] }));
    expect(cost(program, { a: big, b: big })).toBeGreaterThan(3_000);
    expect(cost(program, { a: big, b: 1 })).toBeLessThan(10);
  });
});

describe('the save-time estimate', () => {
  it('rejects the filters of issue 20 that are expensive for inputs within the limits', () => {
    const nested = compileExpression('event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))', eventFilterEnvironment, {
      maxCost: 1_000_000,
    });
    expect(nested).toMatchObject({ ok: false, error: { code: 'cost' } });
    if (!nested.ok) expect(nested.error.message).toContain('lists of up to 1000 elements');
    const ordinary = compileExpression(
      "event.data.region == 'eu' && event.data.amount > 100 && 'vip' in event.data.tags",
      eventFilterEnvironment,
      { maxCost: 1_000_000 },
    );
    expect(ordinary.ok).toBe(true);
    if (ordinary.ok) expect(ordinary.program.cost).toBeLessThan(10_000);
  });

  it('uses the declared input limits, not an assumed list size', () => {
    const source = 'event.data.xs.exists(x, x == 1)';
    const small = compile(source, { maxDepth: 8, maxListElements: 10, maxBytes: 1_000 }).cost;
    const large = compile(source, { maxDepth: 8, maxListElements: 10_000, maxBytes: 1_000_000 }).cost;
    expect(large).toBeGreaterThan(small * 500);
  });

  it('is never below the run-time cost of inputs within the limits (property)', () => {
    const limits: InputLimits = { maxDepth: 4, maxListElements: 4, maxBytes: 400 };
    // Literals wrapped in dyn() so that most combinations type-check and fail, if at all, at run time.
    const leaf = fc.constantFrom(
      'event.data.s',
      'event.data.xs',
      'event.data.n',
      'event.data',
      "dyn('ab')",
      'dyn(2)',
      'dyn([1, 2])',
    );
    const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} + ${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} == ${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} in ${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `[${a}, ${b}]`),
        tie('e').map((a) => `size(${a})`),
        tie('e').map((a) => `${a}.lowerAscii()`),
        tie('e').map((a) => `${a}.split('b')`),
        tie('e').map((a) => `${a}.contains('b')`),
        tie('e').map((a) => `${a}.matches('a+b')`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}.matches(${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}.exists(v, v == ${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}.map(v, [v, ${b}])`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}.filter(v, v in ${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}.all(v, ${a}.all(w, v == w || ${b} == v))`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `cel.bind(v, ${a}, v + v + ${b})`),
        fc.tuple(tie('e'), tie('e'), tie('e')).map(([a, b, c]) => `(${a} == ${b} ? ${b} : ${c})`),
      ),
    })).e;
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '😀', ','), maxLength: 60 });
    const element = fc.oneof(text, fc.integer({ min: -5, max: 5 }), fc.array(text, { maxLength: 3 }));
    const data = fc
      .record({ s: text, xs: fc.array(element, { maxLength: limits.maxListElements }), n: fc.integer() })
      .filter((d) => JSON.stringify({ data: d }).length <= limits.maxBytes);
    let checked = 0;
    fc.assert(
      fc.property(expr, data, (source, input) => {
        const compiled = compileExpression(source, eventFilterEnvironment, { input: limits });
        if (!compiled.ok) return;
        const result = evaluate(compiled.program, { event: toCelValue({ data: input }) }, { budget: HUGE });
        checked++;
        expect(result.cost, `${source} on ${JSON.stringify(input)}`).toBeLessThanOrEqual(compiled.program.cost);
      }),
      { numRuns: 4_000 },
    );
    expect(checked, 'expressions that type-checked').toBeGreaterThan(600);
  }, 120_000);
});
