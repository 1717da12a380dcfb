import { expect, test } from 'vitest';
import { outlasting, TEST_SLACK_MS, WaitTimeoutError, waitFor, within } from './wait.ts';

test('waitFor returns the first done value; until decides what done is', async () => {
  let n = 0;
  expect(await waitFor(() => (++n >= 3 ? `at ${n}` : undefined), { what: 'a third check', intervalMs: 1 })).toBe(
    'at 3',
  );
  let m = 0;
  expect(await waitFor(() => ++m, { what: 'a count of 4', until: (v) => v === 4, intervalMs: 1 })).toBe(4);
  expect(await waitFor(() => 0, { what: 'zero, which is a value', until: (v) => v === 0 })).toBe(0);
});

test('a timeout names what was awaited and the last value seen, with the context', async () => {
  let n = 0;
  const error = await waitFor(() => ({ rows: ++n }), {
    what: 'row 42 of run r-1',
    until: (seen) => seen.rows >= 1_000_000,
    timeoutMs: 50,
    intervalMs: 5,
    context: () => '--- worker log: nothing',
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WaitTimeoutError);
  const timeout = error as WaitTimeoutError;
  expect(timeout.code).toBe('WAIT_TIMEOUT');
  expect(timeout.message).toMatch(/^timed out after 50 ms waiting for row 42 of run r-1; last seen: \{ rows: \d+ \}/);
  expect(timeout.message).toContain('\n--- worker log: nothing');
  expect(timeout.lastValue).toEqual({ rows: n });
});

test('a check that hangs is cut off at the deadline; a check that throws ends the wait at once', async () => {
  const hung = await waitFor(() => new Promise<never>(() => {}), { what: 'a hung check', timeoutMs: 30 }).catch(
    (e: unknown) => e,
  );
  expect(String(hung)).toContain('waiting for a hung check; the check never completed');
  let calls = 0;
  const thrown = await waitFor(
    () => {
      calls++;
      throw new RangeError('broken check');
    },
    { what: 'anything', intervalMs: 1 },
  ).catch((e: unknown) => e);
  expect(thrown).toBeInstanceOf(RangeError);
  expect(calls).toBe(1);
});

test('within passes a result or a rejection through, and names a promise that never settles', async () => {
  expect(await within(Promise.resolve(7), { what: 'seven' })).toBe(7);
  await expect(within(Promise.reject(new TypeError('no')), { what: 'a failure' })).rejects.toBeInstanceOf(TypeError);
  await expect(within(new Promise(() => {}), { what: 'workflow w-1 to finish', timeoutMs: 20 })).rejects.toThrow(
    'timed out after 20 ms waiting for workflow w-1 to finish; it was still pending',
  );
});

test('outlasting adds the slack to the waits it is given', () => {
  expect(outlasting(30_000, 60_000)).toBe(90_000 + TEST_SLACK_MS);
});
