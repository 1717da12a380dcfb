import { CorruptRowError } from '@activity-core/db';
import { describe, expect, test } from 'vitest';
import { createPinnedSpecs, pinnedSpecError } from './pinned-specs.ts';

const spec = (key: string) => ({
  key,
  name: 'Pinned',
  trigger: { kind: 'event', event: { types: ['order.created'] } },
  taskTemplates: [{ key: 'review', title: 'Review {{ event.data.orderId }}' }],
});

/** A loader over a map of stored specs, counting its reads. */
function store(specs: Record<string, unknown>) {
  const reads: string[] = [];
  return {
    reads,
    load: async (definitionId: string, version: number) => {
      const key = `${definitionId}@${version}`;
      reads.push(key);
      const stored = specs[key];
      if (stored instanceof Error) throw stored;
      return stored;
    },
  };
}

describe('pinned specs', () => {
  test('a version is read and validated once, also by concurrent first runs, and every run gets the same spec', async () => {
    const s = store({ 'd1@1': spec('one') });
    const specs = createPinnedSpecs({ load: s.load });
    const [a, b] = await Promise.all([specs.get('d1', 1), specs.get('d1', 1)]);
    const c = await specs.get('d1', 1);
    expect(a.ok && a.spec.key).toBe('one');
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(s.reads).toEqual(['d1@1']);
  });

  test('bounded: the least recently used version goes first', async () => {
    const s = store({ 'd@1': spec('a'), 'd@2': spec('b'), 'd@3': spec('c') });
    const specs = createPinnedSpecs({ load: s.load, maxEntries: 2 });
    await specs.get('d', 1);
    await specs.get('d', 2);
    await specs.get('d', 1);
    await specs.get('d', 3);
    expect(specs.size).toBe(2);
    await specs.get('d', 1);
    await specs.get('d', 2);
    expect(s.reads).toEqual(['d@1', 'd@2', 'd@3', 'd@2']);
  });

  test('an invalid version is remembered with its reasons; a failed read is not', async () => {
    const down = new Error('connection refused');
    const stored: Record<string, unknown> = { 'd@1': { key: 'bad', name: 'Bad' }, 'd@2': down };
    const s = store(stored);
    const specs = createPinnedSpecs({ load: s.load });
    const invalid = await specs.get('d', 1);
    expect(invalid.ok).toBe(false);
    expect(pinnedSpecError('bad', 1, invalid)).toMatch(/^definition bad version 1 is invalid: trigger: /);
    await expect(specs.get('d', 2)).rejects.toBe(down);
    stored['d@2'] = spec('back');
    const back = await specs.get('d', 2);
    expect(back.ok).toBe(true);
    await specs.get('d', 1);
    expect(s.reads).toEqual(['d@1', 'd@2', 'd@2']);
  });

  test('a corrupt row is an unreadable version, not an error to retry', async () => {
    const corrupt = new CorruptRowError({
      table: 'definition_versions',
      rowId: 'd@1',
      field: 'spec',
      issues: [{ code: 'custom', path: ['trigger'], message: 'Required', input: undefined }],
    });
    const specs = createPinnedSpecs({ load: store({ 'd@1': corrupt }).load });
    const pinned = await specs.get('d', 1);
    expect(pinnedSpecError('k', 1, pinned)).toBe(`definition k version 1 is unreadable: ${corrupt.message}`);
  });
});
