import { describe, expect, it } from 'vitest';
import { compileExpression, evaluate, eventFilterEnvironment, toCelValue } from './cel.ts';
import { PATTERN_CACHE_ENTRIES, patternCacheSize } from './cel-regex.ts';

function matches(subject: string, pattern: string): unknown {
  const compiled = compileExpression('event.s.matches(event.p)', eventFilterEnvironment, { expect: ['bool'] });
  if (!compiled.ok) throw new Error(compiled.error.message);
  const result = evaluate(compiled.program, { event: toCelValue({ s: subject, p: pattern }) }, { budget: 1e9 });
  return result.ok ? result.value : result.error.code;
}

function literal(subject: string, pattern: string): unknown {
  const compiled = compileExpression(`event.s.matches(${JSON.stringify(pattern)})`, eventFilterEnvironment);
  if (!compiled.ok) return compiled.error.code;
  const result = evaluate(compiled.program, { event: toCelValue({ s: subject }) });
  return result.ok ? result.value : result.error.code;
}

/** [subject, RE2 pattern, RE2 result, what JavaScript RegExp says where it differs]. */
const TABLE: Array<[string, string, boolean, (boolean | 'error')?]> = [
  // Search semantics: unanchored unless anchored.
  ['xabcx', 'abc', true],
  ['xabcx', '^abc$', false],
  ['abc', '^abc$', true],
  ['line1\nline2', '^line2$', false],
  ['line1\nline2', '(?m)^line2$', true, 'error'],
  ['ab', '\\Aab\\z', true, false],
  ['ab\n', 'ab\\z', false],
  // Character classes.
  ['a1_', '^\\w+$', true],
  ['٣', '^\\d$', false],
  ['a', '[[:alpha:]]', true, false],
  ['1', '^[[:alpha:]]$', false],
  [' \t', '^\\s+$', true],
  ['\u00a0', '^\\s$', false, true],
  // Repetition.
  ['aaa', '^a{3}$', true],
  ['aaaa', '^a{2,3}$', false],
  ['aaaa', '^a{2,}$', true],
  ['aaa', '^a*?$', true],
  ['ab', '^(a|ab)(c|bcd)?$', true],
  // Unicode: RE2 works on code points, `.` is any of them but \n.
  ['😀', '^.$', true, false],
  ['\r', '^.$', true, false],
  ['\n', '^.$', false],
  ['\n', '(?s)^.$', true, 'error'],
  ['αβγ', '^\\p{Greek}+$', true, false],
  ['Ωmega', '^\\pL+$', true, false],
  ['1', '^\\PL$', true, false],
  // Flags and quoting.
  ['HeLLo', '(?i)hello', true, 'error'],
  ['a.b', '^\\Qa.b\\E$', true, false],
  ['axb', '^\\Qa.b\\E$', false],
  // Named groups in RE2's form.
  ['ab', '(?P<first>a)b', true, 'error'],
];

describe('matches() has RE2 semantics', () => {
  it.each(TABLE)('%j matches %j: %s', (subject, pattern, expected, javascript) => {
    expect(matches(subject, pattern)).toBe(expected);
    expect(literal(subject, pattern)).toBe(expected);
    if (javascript !== undefined) {
      // The row is here because JavaScript's RegExp disagrees: keep the table honest.
      let js: boolean | 'error';
      try {
        js = new RegExp(pattern).test(subject);
      } catch {
        js = 'error';
      }
      expect(js).toBe(javascript);
      expect(js).not.toBe(expected);
    }
  });

  it.each([
    ['(a)\\1', 'backreference'],
    ['(?=a)', 'lookahead'],
    ['(?<!a)b', 'lookbehind'],
    ['a++', 'possessive'],
    ['(?>a)', 'atomic group'],
    ['a{1001}', 'repeat count above 1000'],
    ['(a', 'unclosed group'],
  ])('refuses %j (%s): a compile error for a literal, an evaluation error for a dynamic pattern', (pattern) => {
    const compiled = compileExpression(`event.s.matches(${JSON.stringify(pattern)})`, eventFilterEnvironment);
    expect(compiled.ok).toBe(false);
    if (!compiled.ok) {
      expect(compiled.error.code).toBe('regex');
      expect(compiled.error.message).toContain('invalid RE2 pattern');
      expect(compiled.error.position?.column).toBe(17);
    }
    expect(matches('a', pattern)).toBe('evaluation');
  });

  it('checks literal patterns of the global form and inside macros too', () => {
    for (const source of ['matches(event.s, "(x")', 'event.xs.exists(x, x.matches("(x"))']) {
      const compiled = compileExpression(source, eventFilterEnvironment);
      expect(compiled.ok ? 'ok' : compiled.error.code, source).toBe('regex');
    }
  });

  it('runs catastrophic-backtracking patterns in linear time', () => {
    // With a backtracking engine, 40 characters take hours; the test would time out.
    const compiled = compileExpression("event.s.matches('^(a+)+$')", eventFilterEnvironment);
    if (!compiled.ok) throw new Error(compiled.error.message);
    const costs = [20, 40, 80, 160].map((n) => {
      const result = evaluate(compiled.program, { event: toCelValue({ s: `${'a'.repeat(n)}!` }) });
      expect(result).toMatchObject({ ok: true, value: false });
      return result.cost;
    });
    // Charged per character: doubling the subject at most doubles the cost (plus the nodes).
    for (let i = 1; i < costs.length; i++) expect(costs[i]).toBeLessThanOrEqual(2 * (costs[i - 1] as number) + 8);
    expect(matches(`${'a'.repeat(10_000)}!`, '(x+x+)+y')).toBe(false);
  });

  it('keeps the cache of run-time patterns bounded, and charges their compilation every time', () => {
    const costs = new Set<number>();
    const compiled = compileExpression('event.s.matches(event.p)', eventFilterEnvironment);
    if (!compiled.ok) throw new Error(compiled.error.message);
    for (let i = 0; i < PATTERN_CACHE_ENTRIES + 50; i++) {
      const pattern = `^x${String(i).padStart(4, '0')}$`;
      const vars = { event: toCelValue({ s: 'x0001', p: pattern }) };
      const first = evaluate(compiled.program, vars);
      const again = evaluate(compiled.program, vars);
      expect(again.cost, 'a cache hit costs what a miss did').toBe(first.cost);
      costs.add(first.cost);
    }
    expect(patternCacheSize()).toBeLessThanOrEqual(PATTERN_CACHE_ENTRIES);
    expect(costs.size).toBe(1);
  });
});
