import type { Run, RunLogEntry } from '@activity-core/api';
import { describe, expect, test } from 'vitest';
import { windowCell } from './look.ts';
import { describeEntry } from './tail.ts';

const entry = (kind: RunLogEntry['kind'], data: Record<string, unknown>): RunLogEntry => ({
  runId: 'r-1',
  seq: 1,
  definitionId: 'd-1',
  at: '2026-12-01T09:00:00.000Z',
  kind,
  data,
});

const window = (over: Partial<NonNullable<Run['window']>> = {}): NonNullable<Run['window']> => ({
  key: 'o-1',
  keyHash: 'ab'.repeat(32),
  mode: 'batch',
  openingEventKey: 'urn:shop/e-1',
  openedAt: '2026-12-01T09:00:00.000Z',
  closedAt: null,
  reason: null,
  count: 3,
  stored: 3,
  duplicates: 0,
  ...over,
});

describe('runs tail describes the window entries', () => {
  test('an event joining a waiting window, and one past its bounds', () => {
    const joined = { eventKey: 'urn:shop/e-2', id: 'e-2', source: 'urn:shop', type: 'order.paid', position: 2 };
    expect(describeEntry(entry('event_joined', { ...joined, kept: true }))).toBe('order.paid e-2 joined #2');
    expect(describeEntry(entry('event_joined', { ...joined, kept: false }))).toBe(
      'order.paid e-2 joined #2 (counted, not kept)',
    );
  });

  test('a window closing: by time into a run, or discarded by an operator', () => {
    const closed = { count: 7, kept: 7, duplicates: 1, openedAt: 'a', closedAt: 'b' };
    expect(describeEntry(entry('window_closed', { ...closed, reason: 'quiet', next: 'run' }))).toBe(
      'quiet: 7 events, 7 kept -> run',
    );
    expect(
      describeEntry(
        entry('window_closed', { ...closed, reason: 'discarded', next: 'cancelled', by: 'ops', note: 'noise' }),
      ),
    ).toBe('discarded by ops: 7 events, 7 kept -> cancelled');
  });

  test('the triggered entry of a window run names the window', () => {
    const trigger = { kind: 'window', key: 'o-1', mode: 'allOf', reason: 'complete', count: 2, kept: 2 };
    expect(describeEntry(entry('triggered', { trigger, version: 1 }))).toBe('window allOf o-1: 2 events, complete');
    expect(describeEntry(entry('triggered', { trigger: { kind: 'event', type: 'order.created' } }))).toBe(
      'event order.created',
    );
  });
});

describe('get runs shows a run’s window', () => {
  test('open while it waits, its close reason once closed, what was kept', () => {
    expect(windowCell(null)).toBe('-');
    expect(windowCell(window())).toBe('batch o-1 3 ev open');
    expect(windowCell(window({ count: 1200, stored: 1000, reason: 'maxEvents', closedAt: 'x' }))).toBe(
      'batch o-1 1200 ev (1000 kept) maxEvents',
    );
  });
});
