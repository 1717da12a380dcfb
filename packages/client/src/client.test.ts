import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { type AppRouter, createActivityCoreClient, createEventPublisher, InvalidEventError } from './index.ts';

type In = inferRouterInputs<AppRouter>;
type Out = inferRouterOutputs<AppRouter>;

// Type tests: checked by `tsc` over the repo (these assertions fail compilation, not the run).
describe('types', () => {
  test('procedures carry their input and output types', () => {
    const api = createActivityCoreClient({ url: 'http://127.0.0.1:1/trpc', token: 't' });
    expectTypeOf(api.definitions.get.query).parameter(0).toEqualTypeOf<{ id: string }>();
    expectTypeOf<Out['definitions']['get']['createdAt']>().toEqualTypeOf<string>();
    expectTypeOf<Out['definitions']['get']['version']>().toEqualTypeOf<number>();
    expectTypeOf<Out['definitions']['list']['nextCursor']>().toEqualTypeOf<string | null>();
    expectTypeOf<In['definitions']['update']>().toHaveProperty('expectedVersion').toEqualTypeOf<number>();
    expectTypeOf<Out['tasks']['get']['status']>().toEqualTypeOf<'open' | 'completed' | 'cancelled' | 'expired'>();
    expectTypeOf<Out['runs']['trigger']>().toEqualTypeOf<{
      workflowId: string;
      started: boolean;
      idempotencyKey: string;
      definitionVersion: number;
    }>();
    expectTypeOf<Out['definitions']['dryRun']['wouldTrigger']>().toEqualTypeOf<boolean>();
    expectTypeOf<Out['tokens']['create']['secret']>().toEqualTypeOf<string>();
    // Mutations are not queries and vice versa.
    expectTypeOf(api.definitions.create).toHaveProperty('mutate');
    expectTypeOf(api.definitions.list).toHaveProperty('query');
    expectTypeOf(api.definitions.list).not.toHaveProperty('mutate');
  });

  test('error data carries field errors and a correlation id', () => {
    type ErrorData = NonNullable<import('@trpc/client').TRPCClientError<AppRouter>['data']>;
    expectTypeOf<ErrorData['fieldErrors']>().toEqualTypeOf<import('@activity-core/api').FieldError[] | null>();
    expectTypeOf<ErrorData['correlationId']>().toEqualTypeOf<string | null>();
  });
});

describe('createEventPublisher', () => {
  test('refuses an invalid CloudEvent before it reaches NATS, naming the field', async () => {
    // A connection that must never be used: validation fails first.
    const nc = new Proxy({} as import('@nats-io/transport-node').NatsConnection, {
      get: (_t, p) => {
        if (p === 'then') return undefined;
        return () => {
          throw new Error(`NATS touched: ${String(p)}`);
        };
      },
    });
    const publisher = await createEventPublisher({ nc });
    const error = await publisher
      .publish({ specversion: '1.0', id: '', source: 'urn:x', type: 'order.created' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).issues.map((i) => i.path)).toEqual(['id']);
    const wildcard = await publisher
      .publish({ specversion: '1.0', id: 'x', source: 'urn:x', type: 'order.*' })
      .catch((e: unknown) => e);
    expect((wildcard as InvalidEventError).issues).toEqual([{ path: 'type', message: expect.any(String) }]);
  });
});
