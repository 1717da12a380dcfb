import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { errors } from '@nats-io/transport-node';
import { expect, test } from 'vitest';
import { PUBLISH_RETRY, publishRetrying, retryingSetup, SETUP_RETRY } from './publish.ts';

const apiError = (code: number, description: string) =>
  new JetStreamApiError({ err_code: code, code: 400, description });
const ack = { stream: 'AC_EVENTS', seq: 7, duplicate: true } as PubAck;

test('timeouts and missing leaders are retried with the same msgID until one attempt is acked', async () => {
  const seen: unknown[] = [];
  const failures = [new errors.TimeoutError(), new jserrors.JetStreamNotEnabled('jetstream is not enabled')];
  const js = {
    publish: async (_subject: string, _data: unknown, options: unknown) => {
      seen.push(options);
      const failure = failures.shift();
      if (failure) throw failure;
      return ack;
    },
  };
  const retries: number[] = [];
  const result = await publishRetrying(js as never, 'events.x', '{}', { msgID: 'm-1' }, PUBLISH_RETRY, {
    sleep: async () => undefined,
    onRetry: (attempt) => retries.push(attempt),
  });
  expect(result).toBe(ack);
  expect(retries).toEqual([1, 2]);
  expect(seen).toHaveLength(3);
  for (const options of seen) expect(options).toMatchObject({ msgID: 'm-1', timeout: 5_000, retries: 1 });
});

test('a final error is thrown at once, and retries stop at the deadline', async () => {
  let calls = 0;
  const wrongStream = {
    publish: async () => {
      calls++;
      throw apiError(10060, 'expected stream does not match');
    },
  };
  await expect(publishRetrying(wrongStream as never, 's', '', { msgID: 'm' })).rejects.toThrow(/expected stream/);
  expect(calls).toBe(1);

  let clock = 0;
  calls = 0;
  const down = {
    publish: async () => {
      calls++;
      throw new errors.TimeoutError();
    },
  };
  const hooks = {
    now: () => clock,
    sleep: async (ms: number) => {
      clock += ms + 5_000;
    },
  };
  await expect(publishRetrying(down as never, 's', '', { msgID: 'm' }, PUBLISH_RETRY, hooks)).rejects.toThrow(
    /timeout/,
  );
  expect(clock).toBeLessThanOrEqual(PUBLISH_RETRY.deadlineMs + PUBLISH_RETRY.maxMs + 5_000);
  expect(calls).toBeGreaterThan(1);
});

test('a set-up step is run again while JetStream is electing, judged by the error retryable() picks', async () => {
  const wrapped = (cause: Error) => Object.assign(new Error(`refused (${cause.message})`), { cause });
  const failures = [
    wrapped(new errors.TimeoutError()),
    wrapped(new jserrors.JetStreamNotEnabled('jetstream is not enabled')),
  ];
  const retries: number[] = [];
  const result = await retryingSetup(
    async () => {
      const failure = failures.shift();
      if (failure) throw failure;
      return 'created';
    },
    (error) => (error as Error).cause,
    SETUP_RETRY,
    { sleep: async () => undefined, onRetry: (attempt) => retries.push(attempt) },
  );
  expect(result).toBe('created');
  expect(retries).toEqual([1, 2]);

  let calls = 0;
  const refused = retryingSetup(async () => {
    calls++;
    throw apiError(10047, 'insufficient resources');
  });
  await expect(refused).rejects.toThrow(/insufficient resources/);
  expect(calls).toBe(1);

  let clock = 0;
  calls = 0;
  const electing = retryingSetup(
    async () => {
      calls++;
      throw new errors.TimeoutError();
    },
    undefined,
    SETUP_RETRY,
    {
      now: () => clock,
      sleep: async (ms) => {
        clock += ms + 5_000;
      },
    },
  );
  await expect(electing).rejects.toBeInstanceOf(errors.TimeoutError);
  expect(clock).toBeLessThanOrEqual(SETUP_RETRY.deadlineMs + SETUP_RETRY.maxMs + 5_000);
  expect(calls).toBeGreaterThan(1);
});
