import type { PendingOutboxEntry } from '@activity-core/api';
import { describe, expect, test } from 'vitest';
import { outboxTable } from './outbox.ts';

const row = (over: Partial<PendingOutboxEntry>): PendingOutboxEntry => ({
  id: '0190a0a0-0000-7000-8000-000000000001',
  seq: '7',
  subject: 'tasks.created.review',
  orderKey: 'task-1',
  attempts: 0,
  lastError: null,
  createdAt: '2026-12-01T09:00:00.000Z',
  nextAttemptAt: '2026-12-01T09:00:00.000Z',
  waitingFor: null,
  ...over,
});

describe('outbox list says what holds each row', () => {
  test('due, failing with its error, or waiting for the earlier row of its task', () => {
    const text = outboxTable([
      row({ attempts: 4, lastError: 'nats: maximum payload exceeded' }),
      row({ id: 'r-2', seq: '8', subject: 'tasks.completed.review', waitingFor: 'r-1' }),
      row({ id: 'r-3', seq: '9', orderKey: 'task-2' }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+ID\s+SUBJECT\s+WRITTEN\s+ATTEMPTS\s+NEXT\s+STATE/);
    expect(lines.find((l) => l.startsWith('7 '))).toMatch(/failing: nats: maximum payload exceeded$/);
    expect(lines.find((l) => l.startsWith('8 '))).toMatch(/waits for r-1$/);
    expect(lines.find((l) => l.startsWith('9 '))).toMatch(/\bdue$/);
  });
});
