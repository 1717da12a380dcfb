import { describe, expect, test } from 'vitest';
import { silentLogger } from './logger.ts';
import { startUnwinding } from './startup.ts';

describe('startUnwinding', () => {
  test('a failed step releases what was owned before it, in reverse order, and rethrows its error', async () => {
    const released: string[] = [];
    const failure = new Error('port in use');
    const outcome = await startUnwinding(silentLogger, async ({ own }) => {
      own('db', 'db', (r) => released.push(r));
      own('nats', 'nats', async (r) => {
        await Promise.resolve();
        released.push(r);
      });
      throw failure;
    }).catch((e: unknown) => e);
    expect(outcome).toBe(failure);
    expect(released).toEqual(['nats', 'db']);
  });

  test('every release runs even if one throws; the failed release is logged, the start-up error kept', async () => {
    const released: string[] = [];
    const warnings: unknown[] = [];
    const logger = { ...silentLogger, warn: (message: string, fields?: unknown) => warnings.push({ message, fields }) };
    const outcome = await startUnwinding(logger, async ({ own }) => {
      own('db', 'db', (r) => released.push(r));
      own('nats', 'nats', () => {
        throw new Error('already closed');
      });
      own('temporal', 'temporal', (r) => released.push(r));
      throw new Error('temporal unreachable');
    }).catch((e: unknown) => e);
    expect((outcome as Error).message).toBe('temporal unreachable');
    expect(released).toEqual(['temporal', 'db']);
    expect(warnings).toEqual([
      {
        message: 'could not release after a failed start',
        fields: { what: 'nats', error: new Error('already closed') },
      },
    ]);
  });

  test('a start-up that succeeds releases nothing and returns its value', async () => {
    const released: string[] = [];
    const value = await startUnwinding(silentLogger, async ({ own }) => {
      const db = own('db', { name: 'db' }, (r) => released.push(r.name));
      return db.name;
    });
    expect(value).toBe('db');
    expect(released).toEqual([]);
  });
});
