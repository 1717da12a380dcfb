import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffJson } from './spec-diff.ts';

describe('diffJson', () => {
  it('names each changed, added and removed field by its path', () => {
    const before = {
      key: 'a',
      trigger: { event: { types: ['x'], filter: 'true' } },
      rules: [{ name: 'r', when: 'a' }],
    };
    const after = { key: 'a', trigger: { event: { types: ['x', 'y'] } }, rules: [{ name: 'r', when: 'b' }], extra: 1 };
    expect(diffJson(before, after)).toEqual([
      { path: 'extra', kind: 'added', after: 1 },
      { path: 'rules[0].when', kind: 'changed', before: 'a', after: 'b' },
      { path: 'trigger.event.filter', kind: 'removed', before: 'true' },
      { path: 'trigger.event.types[1]', kind: 'added', after: 'y' },
    ]);
  });

  it('ignores key order and reports a type change as one change', () => {
    expect(diffJson({ a: 1, b: 2 }, { b: 2, a: 1 })).toEqual([]);
    expect(diffJson({ a: [1] }, { a: { 0: 1 } })).toEqual([
      { path: 'a', kind: 'changed', before: [1], after: { 0: 1 } },
    ]);
  });

  it('finds no change between a value and itself, and some between different values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(diffJson(a, structuredClone(a))).toEqual([]);
        const same = JSON.stringify(a) === JSON.stringify(b);
        if (!same) expect(diffJson(a, b).length).toBeGreaterThan(0);
      }),
    );
  });

  it('walks deep values without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = { n: deep };
    expect(diffJson(deep, { n: 2 })).toHaveLength(1);
  });
});
