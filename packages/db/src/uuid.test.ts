import { describe, expect, it } from 'vitest';
import { isUuid, newId } from './uuid.ts';

describe('newId', () => {
  it('is a version 7, variant 1 UUID carrying the time', () => {
    const t = Date.UTC(2026, 10, 26, 14, 0, 0, 123);
    const id = newId(t);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(t);
  });

  it('sorts by creation millisecond', () => {
    const ids = [0, 1, 2, 1000, 2 ** 40].map((t) => newId(t));
    expect([...ids].sort()).toEqual(ids);
  });
});
