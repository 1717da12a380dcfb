import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from './cel-limits.ts';
import { formatPath } from './errors.ts';
import { displayText, inspectJson, type JsonProblem, setOwn, storableCopy, unstorableText } from './input-limits.ts';

const small: InputLimits = { maxDepth: 3, maxListElements: 4, maxBytes: 16 };

function nested(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** The rule written the obvious (recursive) way, to compare the iterative walker with. */
function reference(
  value: unknown,
  limits: InputLimits,
  path: Array<string | number> = [],
  depth = 0,
): JsonProblem | undefined {
  const at = (kind: JsonProblem['kind'], message: string): JsonProblem => ({ kind, path: formatPath(path), message });
  if (typeof value === 'string') {
    if (new TextEncoder().encode(value).length > limits.maxBytes) return at('too_large', '');
    return unstorableText(value) ? at('unsupported', '') : undefined;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : at('unsupported', '');
  if (value === null || typeof value !== 'object') return undefined;
  if (depth + 1 > limits.maxDepth) return at('too_deep', '');
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.keys(value).map((k) => [k, (value as Record<string, unknown>)[k]]);
  if (entries.length > limits.maxListElements) return at('too_large', '');
  if (!Array.isArray(value)) {
    for (const [k] of entries) {
      const key = k as string;
      if (new TextEncoder().encode(key).length > limits.maxBytes) return at('too_large', '');
      if (unstorableText(key)) return at('unsupported', '');
    }
  }
  for (const [k, v] of entries) {
    const found = reference(v, limits, [...path, typeof k === 'string' ? displayText(k) : k], depth + 1);
    if (found) return found;
  }
  return undefined;
}

describe('inspectJson', () => {
  it('accepts a value exactly at each limit', () => {
    expect(inspectJson(nested(3), small)).toBeUndefined();
    expect(inspectJson([1, 2, 3, 4], small)).toBeUndefined();
    expect(inspectJson({ a: 1, b: 2, c: 3, d: 4 }, small)).toBeUndefined();
    expect(inspectJson('x'.repeat(16), small)).toBeUndefined();
    expect(inspectJson('é'.repeat(8), small)).toBeUndefined(); // 16 bytes of UTF-8
  });

  it('refuses one past each limit, naming where', () => {
    expect(inspectJson(nested(4), small, ['data'])).toEqual({
      kind: 'too_deep',
      path: 'data.a[0].a',
      message: 'nested deeper than 3 levels',
    });
    expect(inspectJson({ list: [1, 2, 3, 4, 5] }, small)).toMatchObject({ kind: 'too_large', path: 'list' });
    expect(inspectJson({ a: 1, b: 2, c: 3, d: 4, e: 5 }, small)).toMatchObject({ kind: 'too_large', path: '' });
    expect(inspectJson(['x'.repeat(17)], small)).toMatchObject({ kind: 'too_large', path: '[0]' });
    expect(inspectJson(['é'.repeat(9)], small)).toMatchObject({ kind: 'too_large', path: '[0]' });
    expect(inspectJson({ ['k'.repeat(17)]: 1 }, small)).toMatchObject({ kind: 'too_large', path: '' });
  });

  it('walks 100,000 levels without recursion (and stops at the limit)', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    const problem = inspectJson(deep);
    expect(problem?.kind).toBe('too_deep');
    expect(problem?.path).toBe('[0]'.repeat(DEFAULT_INPUT_LIMITS.maxDepth));
  });

  it('refuses what PostgreSQL cannot store: NUL and unpaired surrogates in strings and keys, and non-finite numbers', () => {
    expect(inspectJson({ a: ['ok', 'x\u0000y'] })).toMatchObject({ kind: 'unsupported', path: 'a[1]' });
    expect(inspectJson({ a: '\ud800' })).toMatchObject({ kind: 'unsupported', path: 'a' });
    expect(inspectJson({ a: 'x\udc00' })).toMatchObject({ kind: 'unsupported', path: 'a' });
    expect(inspectJson({ 'k\u0000': 1 })).toMatchObject({
      kind: 'unsupported',
      message: expect.stringContaining('k\\u0000'),
    });
    expect(inspectJson({ n: JSON.parse('1e400') })).toMatchObject({ kind: 'unsupported', path: 'n' });
    expect(inspectJson({ n: 10n })).toMatchObject({ kind: 'unsupported', path: 'n' });
    // Paired surrogates, other control characters and noncharacters are text jsonb stores.
    expect(inspectJson({ a: '😀 \u0001\u001f\u007f\ufffe' })).toBeUndefined();
  });

  it('treats __proto__ and constructor as ordinary keys', () => {
    const value = JSON.parse('{"__proto__": {"x": "\\u0000"}, "constructor": 1}');
    expect(inspectJson(value)).toMatchObject({ kind: 'unsupported', path: '__proto__.x' });
  });

  it('reports the first problem in document order, as the recursive definition does', () => {
    const limits: InputLimits = { maxDepth: 4, maxListElements: 5, maxBytes: 12 };
    const text = fc.oneof(fc.string({ maxLength: 14 }), fc.constantFrom('\u0000', 'a\ud800', '\udc00b', '😀'));
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.constantFrom(Number.POSITIVE_INFINITY, null, true),
        fc.array(tie('value'), { maxLength: 7 }),
        fc.dictionary(text, tie('value'), { maxKeys: 7 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const got = inspectJson(value, limits);
        const want = reference(value, limits);
        expect(got?.kind).toBe(want?.kind);
        expect(got?.path).toBe(want?.path);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on anything', () => {
    fc.assert(fc.property(fc.anything(), (value) => void inspectJson(value, small)));
  });
});

describe('storableCopy', () => {
  it('makes every string storable and cuts what is over the limits, iteratively', () => {
    const copy = storableCopy(
      { 'k\u0000': 'a\u0000b', lone: '\ud800!', deep: nested(5), list: [1, 2, 3, 4, 5, 6], n: Number.NaN },
      { maxDepth: 3, maxListElements: 5, maxBytes: 100 },
    ) as Record<string, unknown>;
    expect(copy['k\\u0000']).toBe('a\\u0000b');
    expect(copy.lone).toBe('\ufffd!');
    expect(copy.deep).toEqual([{ a: '[omitted: nested deeper than 3 levels]' }]);
    expect(copy.list).toEqual([1, 2, 3, 4, 5, '[omitted: 1 more]']);
    expect(copy.n).toBeNull();
    expect(inspectJson(copy)).toBeUndefined();
    expect(Object.keys(copy)).toEqual(['k\\u0000', 'lone', 'deep', 'list', 'n']);
    const veryDeep = JSON.parse(`${'['.repeat(50_000)}${']'.repeat(50_000)}`);
    expect(inspectJson(storableCopy(veryDeep))).toBeUndefined();
  });

  it('keeps a __proto__ key as data', () => {
    const copy = storableCopy(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('leaves a storable value equal to itself', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const v = JSON.parse(JSON.stringify(value)) as unknown;
        if (inspectJson(v) === undefined) expect(storableCopy(v)).toEqual(v);
      }),
    );
  });
});

describe('displayText and setOwn', () => {
  it('escapes control characters and unpaired surrogates and cuts long text', () => {
    expect(displayText('a\u0000b\nc\ud800😀')).toBe('a\\u0000b\\u000ac\\ud800😀');
    expect(displayText('x'.repeat(100), 10)).toBe(`${'x'.repeat(10)}…`);
  });

  it('sets __proto__ as an own property', () => {
    const target: Record<string, unknown> = {};
    setOwn(target, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
    expect(Object.keys(target)).toEqual(['__proto__']);
  });
});
