import { expect, test } from 'vitest';
import { describeStatus } from './status.ts';

test('an outage is one line down and one line back; reconnect attempts and pings are not logged', () => {
  expect(describeStatus({ type: 'disconnect', server: 'a:4222' }, undefined, 0)).toMatchObject({ level: 'warn' });
  expect(describeStatus({ type: 'reconnecting' } as never, 0, 10)).toBeUndefined();
  expect(describeStatus({ type: 'ping', pendingPings: 1 } as never, 0, 10)).toBeUndefined();
  expect(describeStatus({ type: 'reconnect', server: 'b:4222' }, 1_000, 3_500)).toEqual({
    level: 'info',
    message: 'NATS connection restored',
    fields: { server: 'b:4222', downMs: 2_500 },
  });
});
