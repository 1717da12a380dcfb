import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidCursorError } from './errors.ts';
import { decodeTimeCursor, encodeCursor, encodeTimeCursor, pageSize, toPage } from './pagination.ts';
import { newId } from './uuid.ts';

describe('time cursors', () => {
  it('round-trip any millisecond time and id', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8.64e15 }), (t) => {
        const id = newId(t % 2 ** 48);
        const c = decodeTimeCursor('runs', encodeTimeCursor('runs', { t: new Date(t), id }));
        expect(c.t.getTime()).toBe(t);
        expect(c.id).toBe(id);
      }),
    );
  });

  it('reject a cursor of another list, garbage, and a non-uuid id', () => {
    const c = encodeTimeCursor('runs', { t: new Date(0), id: newId() });
    expect(() => decodeTimeCursor('tasks', c)).toThrow(InvalidCursorError);
    expect(() => decodeTimeCursor('runs', 'not a cursor')).toThrow(InvalidCursorError);
    expect(() => decodeTimeCursor('runs', encodeCursor('runs', [0, "x' or 1=1"]))).toThrow(InvalidCursorError);
  });
});

describe('pages', () => {
  it('clamp the page size', () => {
    expect(pageSize(undefined)).toBe(50);
    expect(pageSize(0)).toBe(1);
    expect(pageSize(10_000)).toBe(500);
    expect(pageSize(Number.NaN)).toBe(50);
  });

  it('give a cursor only when a row beyond the limit was fetched', () => {
    const rows = [1, 2, 3];
    expect(toPage(rows, 3, (r) => r, String)).toEqual({ items: [1, 2, 3], nextCursor: null });
    expect(toPage(rows, 2, (r) => r, String)).toEqual({ items: [1, 2], nextCursor: '2' });
  });
});
