import { createLogger } from '@activity-core/runtime';
import { describe, expect, it } from 'vitest';
import { FilterFailureLog } from './filter-failures.ts';

const failure = (key: string) => ({
  id: `id-${key}`,
  version: 1,
  key,
  code: 'budget' as const,
  message: 'over budget',
});

describe('FilterFailureLog', () => {
  it('logs a definition once per interval, with the count it left out, and each definition on its own', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line)) });
    let now = 0;
    const log = new FilterFailureLog(logger, { intervalMs: 60_000, now: () => now });
    const event = { seq: 1, subject: 'events.x', eventKey: 'k1' };
    for (let i = 0; i < 5; i++) log.record(failure('a'), event);
    log.record(failure('b'), event);
    expect(lines.map((l) => l.definitionKey)).toEqual(['a', 'b']);
    now = 59_999;
    log.record(failure('a'), event);
    expect(lines).toHaveLength(2);
    now = 60_000;
    log.record(failure('a'), event);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({
      level: 'warn',
      definitionKey: 'a',
      eventKey: 'k1',
      code: 'budget',
      suppressedSinceLastLog: 5,
    });
  });
});
