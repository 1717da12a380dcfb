import type { OutboxEntry } from '@activity-core/api';
import { describe, expect, test } from 'vitest';
import { outboxState, outboxTable } from './outbox.ts';

const NOW = Date.parse('2026-12-01T09:00:00.000Z');
const row = (over: Partial<OutboxEntry>): OutboxEntry => ({
  id: 'r-1',
  seq: '7',
  subject: 'tasks.created.review',
  orderKey: 'task-1',
  attempts: 0,
  lastError: null,
  createdAt: '2026-12-01T08:59:00.000Z',
  nextAttemptAt: '2026-12-01T08:59:00.000Z',
  leasedUntil: null,
  waitingFor: null,
  skipped: null,
  ...over,
});

describe('outbox list says what holds each row', () => {
  test('due, backing off, failing with its error, publishing, waiting, skipped', () => {
    expect(outboxState(row({}), NOW)).toBe('due');
    expect(outboxState(row({ nextAttemptAt: '2026-12-01T09:05:00.000Z' }), NOW)).toMatch(/^next /);
    expect(outboxState(row({ attempts: 4, lastError: 'nats: maximum payload exceeded' }), NOW)).toBe(
      'failing (due): nats: maximum payload exceeded',
    );
    expect(outboxState(row({ lastError: 'nats: timeout', nextAttemptAt: '2026-12-01T09:01:00.000Z' }), NOW)).toMatch(
      /^failing \(next .+\): nats: timeout$/,
    );
    expect(outboxState(row({ leasedUntil: '2026-12-01T09:00:30.000Z', lastError: 'x' }), NOW)).toBe('publishing');
    expect(outboxState(row({ waitingFor: 'r-0' }), NOW)).toBe('waits for r-0');
    expect(outboxState(row({ skipped: { at: '2026-12-01T09:00:00.000Z', by: 'ops', reason: 'too large' } }), NOW)).toBe(
      'skipped by ops: too large',
    );
  });

  test('one line per row under the header', () => {
    const lines = outboxTable([row({}), row({ id: 'r-2', seq: '8', waitingFor: 'r-1' })], NOW).split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+ID\s+SUBJECT\s+WRITTEN\s+ATTEMPTS\s+STATE/);
    expect(lines.find((l) => l.startsWith('7 '))).toMatch(/\bdue$/);
    expect(lines.find((l) => l.startsWith('8 '))).toMatch(/waits for r-1$/);
  });
});
