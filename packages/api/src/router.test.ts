// The router against in-memory dependencies, through tRPC's server-side caller: what each
// procedure hands its dependencies and how it answers, without a server, a database or NATS.
// The HTTP end-to-end suites in test/api cover the same procedures over the wire.
import type { Database } from '@activity-core/db';
import type { DeadLetterDetail, DeadLetterPage } from '@activity-core/ingest';
import { topology } from '@activity-core/messaging';
import { silentLogger } from '@activity-core/runtime';
import { TRPCError } from '@trpc/server';
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { describe, expect, test } from 'vitest';
import type { ApiContext, ApiDeps, RedriveInput } from './context.ts';
import { createTokenBucketLimiter } from './rate-limit.ts';
import { appRouter } from './router.ts';
import { createCallerFactory } from './trpc.ts';

const TOKEN = 'unit-bootstrap-token-0123456789';
const NOW = new Date('2026-03-28T12:00:00Z');

/** A database that fails every query: these procedures must not need one. */
function noDatabase(): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
      createDriver: () => ({
        init: async () => {},
        acquireConnection: async () => {
          throw new Error('unit test: no database');
        },
        beginTransaction: async () => {},
        commitTransaction: async () => {},
        rollbackTransaction: async () => {},
        releaseConnection: async () => {},
        destroy: async () => {},
      }),
    },
  });
}

interface Recorded {
  published: Array<{ subject: string; data: unknown; msgID: string; headers?: Record<string, string> }>;
  redrives: RedriveInput[];
  letters: Array<{ list?: unknown; get?: number }>;
}

function fakeDeps(overrides: Partial<ApiDeps> = {}): { deps: ApiDeps; recorded: Recorded } {
  const recorded: Recorded = { published: [], redrives: [], letters: [] };
  const unused = (what: string) => () => Promise.reject(new Error(`unit test: ${what} not expected`));
  const deps: ApiDeps = {
    db: noDatabase(),
    logger: silentLogger,
    bootstrapToken: TOKEN,
    rateLimiter: createTokenBucketLimiter({ ratePerSecond: 1_000, burst: 1_000 }),
    topology: topology('U'),
    publish: async (subject, data, options) => {
      recorded.published.push({
        subject,
        data: JSON.parse(new TextDecoder().decode(data)),
        msgID: options.msgID,
        ...(options.headers ? { headers: options.headers } : {}),
      });
      return { stream: 'U_AC_EVENTS', seq: recorded.published.length, duplicate: false };
    },
    maxPayloadBytes: () => 4_096,
    startRun: unused('startRun'),
    completeTask: unused('completeTask'),
    cancelTask: unused('cancelTask'),
    closeWindow: unused('closeWindow'),
    redriveDeadLetters: async (input) => {
      recorded.redrives.push(input);
      return { scanned: 3, redriven: 2, failed: [{ seq: 9, error: 'x' }] };
    },
    deadLetters: {
      list: async (options): Promise<DeadLetterPage> => {
        recorded.letters.push({ list: options });
        return { letters: [], nextSeq: null } as unknown as DeadLetterPage;
      },
      get: async (seq): Promise<DeadLetterDetail | null> => {
        recorded.letters.push({ get: seq });
        return seq === 7 ? ({ seq: 7, reason: 'invalid_json' } as unknown as DeadLetterDetail) : null;
      },
    },
    readStoredEvents: () => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('unit test: no stream')) }),
    }),
    eventSettings: { defaultSource: 'urn:unit', maxPayloadBytes: 4_096, maxCausationDepth: 8 },
    onDefinitionChanged: async () => {},
    schedules: {
      describe: unused('schedules.describe'),
      trigger: unused('schedules.trigger'),
      backfill: unused('schedules.backfill'),
      reconcile: unused('schedules.reconcile'),
    },
    now: () => NOW,
    ...overrides,
  };
  return { deps, recorded };
}

const createCaller = createCallerFactory(appRouter);

/** A caller as the HTTP adapter makes one: `authorization` is the raw header (undefined: none). */
function callerAs(deps: ApiDeps, authorization: string | undefined) {
  const ctx: ApiContext = { deps, authorization };
  return createCaller(ctx);
}

const caller = (deps: ApiDeps) => callerAs(deps, `Bearer ${TOKEN}`);

async function trpcError(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

const event = {
  specversion: '1.0' as const,
  id: 'evt-1',
  source: 'urn:shop',
  type: 'order.created',
  data: { orderId: 'A-17', total: 500 },
};

describe('authentication', () => {
  test.each([
    ['no header', undefined],
    ['not a bearer token', `Basic ${TOKEN}`],
    ['an empty bearer token', 'Bearer '],
  ])('%s: UNAUTHORIZED, and no dependency is called', async (_what, authorization) => {
    const { deps, recorded } = fakeDeps();
    const error = await trpcError(callerAs(deps, authorization).events.publish(event));
    expect(error.code).toBe('UNAUTHORIZED');
    expect(recorded.published).toEqual([]);
  });
});

describe('events.publish', () => {
  test('publishes structured CloudEvents JSON on events.<type> with Nats-Msg-Id = the event id', async () => {
    const { deps, recorded } = fakeDeps();
    const answer = await caller(deps).events.publish(event);
    const subject = `${deps.topology.events.subjectPrefix}order.created`;
    expect(subject).toBe('u.events.order.created');
    expect(answer).toEqual({ subject, stream: 'U_AC_EVENTS', seq: 1, duplicate: false });
    expect(recorded.published).toEqual([
      {
        subject,
        // The envelope as ingest will read it: the causation depth defaults to 0.
        data: { ...event, causationdepth: 0 },
        msgID: 'evt-1',
        headers: { 'content-type': 'application/cloudevents+json' },
      },
    ]);
  });

  test.each([
    ['a wildcard type', { ...event, type: 'order.*' }, 'type'],
    ['an empty token in the type', { ...event, type: 'order..created' }, 'type'],
    ['an id over 512 characters', { ...event, id: 'x'.repeat(513) }, 'id'],
  ])('%s is BAD_REQUEST naming the field, and nothing is published', async (_what, input, field) => {
    const { deps, recorded } = fakeDeps();
    const error = await trpcError(caller(deps).events.publish(input));
    expect(error.code).toBe('BAD_REQUEST');
    expect(JSON.stringify(error.cause)).toContain(field);
    expect(recorded.published).toEqual([]);
  });

  test('an event larger than the server takes is BAD_REQUEST on data, before publishing', async () => {
    const { deps, recorded } = fakeDeps({ maxPayloadBytes: () => 200 });
    const error = await trpcError(caller(deps).events.publish({ ...event, data: { note: 'y'.repeat(300) } }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toContain('data: the event is larger than 200 bytes');
    expect(recorded.published).toEqual([]);
  });
});

describe('events.redrive and deadLetters', () => {
  test('redrive passes on only the filters given, with the default limit', async () => {
    const { deps, recorded } = fakeDeps();
    const result = await caller(deps).events.redrive({ reason: 'max_depth' });
    expect(result).toEqual({ scanned: 3, redriven: 2, failed: [{ seq: 9, error: 'x' }] });
    expect(recorded.redrives).toEqual([{ limit: 100, reason: 'max_depth' }]);
  });

  test('a reason that is not a reason code is refused before the stream is read', async () => {
    const { deps, recorded } = fakeDeps();
    const error = await trpcError(caller(deps).events.redrive({ reason: 'Max Depth!' }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(recorded.redrives).toEqual([]);
  });

  test('deadLetters.get answers the letter, or NOT_FOUND naming the sequence', async () => {
    const { deps } = fakeDeps();
    await expect(caller(deps).deadLetters.get({ seq: 7 })).resolves.toEqual({ seq: 7, reason: 'invalid_json' });
    const error = await trpcError(caller(deps).deadLetters.get({ seq: 8 }));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('no dead letter with sequence 8');
  });

  test('deadLetters.list passes the page and filters through', async () => {
    const { deps, recorded } = fakeDeps();
    await caller(deps).deadLetters.list({ subject: 'events.order.>', afterSeq: 40 });
    expect(recorded.letters).toEqual([{ list: { limit: 50, subject: 'events.order.>', afterSeq: 40 } }]);
  });
});

describe('definitions without a database', () => {
  test('previewSchedule of an inline cron counts from the injected clock', async () => {
    const { deps } = fakeDeps();
    const preview = await caller(deps).definitions.previewSchedule({
      cron: { expression: '30 2 * * *', timezone: 'Europe/Berlin' },
      count: 3,
    });
    expect(preview.timezone).toBe('Europe/Berlin');
    // 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 → 03:00).
    expect(preview.times[0]).toBe('2026-03-29T01:00:00.000Z');
    expect(preview.times.slice(1)).toEqual(['2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
  });

  test('previewSchedule with both or neither of cron and definitionId is BAD_REQUEST on cron', async () => {
    const { deps } = fakeDeps();
    const error = await trpcError(caller(deps).definitions.previewSchedule({}));
    expect(error.code).toBe('BAD_REQUEST');
    expect(JSON.stringify(error.cause)).toContain('give exactly one of cron or definitionId');
  });

  test('dryRun of an unsaved definition evaluates the event and writes nothing', async () => {
    const { deps, recorded } = fakeDeps();
    const result = await caller(deps).definitions.dryRun({
      definition: {
        key: 'unit-orders',
        name: 'Unit orders',
        trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
        taskTemplates: [{ key: 'review', title: "{{ 'Review ' + event.data.orderId }}" }],
      },
      event,
    });
    expect(result.wouldTrigger).toBe(true);
    expect(result.tasks).toEqual([expect.objectContaining({ templateKey: 'review', title: 'Review A-17' })]);
    expect(recorded.published).toEqual([]);
  });

  test('dryRun of a windowed definition keys the event as the matcher does, and plans a window of one', async () => {
    const { deps } = fakeDeps();
    const windowed = (key: string) =>
      caller(deps).definitions.dryRun({
        definition: {
          key: 'unit-window',
          name: 'Unit window',
          trigger: {
            kind: 'event',
            event: { types: ['order.created'], window: { mode: 'batch', key, duration: 'PT1M' } },
          },
          taskTemplates: [{ key: 'digest', title: '{{ window.count }} for {{ window.key }}' }],
        },
        event,
      });
    const keyed = await windowed('event.data.orderId');
    expect(keyed.window).toEqual({ key: 'A-17' });
    expect(keyed.tasks).toEqual([expect.objectContaining({ templateKey: 'digest', title: '1 for A-17' })]);
    const unkeyed = await windowed("event.data.orderId == 'none' ? 'x' : ''");
    expect(unkeyed.window).toEqual({ error: expect.any(String), code: 'empty' });
    expect(unkeyed.wouldTrigger).toBe(false);
  });
});
