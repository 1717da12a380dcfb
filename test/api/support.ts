import type { DefinitionChange } from '@activity-core/api';
import { type ApiService, startApiService } from '@activity-core/api-service';
import { loadConfig } from '@activity-core/api-service/config';
import { type ActivityCoreClient, createActivityCoreClient } from '@activity-core/client';
import { createDb, type Database, migrateToLatest } from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import { silentLogger } from '@activity-core/runtime';
import type { Kysely } from 'kysely';
import { afterAll } from 'vitest';
import { createTestDatabase, stackInfo, type TestDatabase, uniqueId } from '../support/stack.ts';
import { type Harness, useWorkerHarness } from '../worker/harness.ts';

export const BOOTSTRAP_TOKEN = 'test-bootstrap-token-0123456789';

export interface TestApi extends AsyncDisposable {
  readonly url: string;
  readonly trpcUrl: string;
  readonly service: ApiService;
  /** A second connection to the API's database, for setup and row counts. */
  readonly db: Kysely<Database>;
  readonly prefix: string;
  readonly taskQueue: string;
  readonly changes: Array<{ definitionId: string; change: DefinitionChange }>;
  client(token?: string): ActivityCoreClient;
}

/**
 * The API in-process on a free port, over its own migrated database, topology prefix and task
 * queue, with the bootstrap token {@link BOOTSTRAP_TOKEN}. Dispose to stop it and drop the database.
 */
export async function startTestApi(env: Record<string, string> = {}): Promise<TestApi> {
  const info = stackInfo();
  const database: TestDatabase = await createTestDatabase();
  const db = createDb({ url: database.url, poolMax: 4 });
  await migrateToLatest(db);
  const prefix = uniqueId('P');
  const taskQueue = uniqueId('tq-');
  const changes: TestApi['changes'] = [];
  const config = loadConfig({
    DATABASE_URL: database.url,
    NATS_URL: info.natsUrl,
    TEMPORAL_ADDRESS: info.temporalAddress,
    TEMPORAL_NAMESPACE: info.temporalNamespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    AC_STREAM_PREFIX: prefix,
    AC_API_PORT: '0',
    AC_API_TOKEN: BOOTSTRAP_TOKEN,
    AC_SCHEDULE_ID_PREFIX: `${prefix.toLowerCase()}-def-`,
    AC_API_RATE_LIMIT_RPS: '100000',
    AC_API_RATE_LIMIT_BURST: '100000',
    LOG_LEVEL: 'error',
    ...env,
  });
  const service = await startApiService(config, {
    logger: silentLogger,
    onDefinitionChanged: async (definitionId, change) => void changes.push({ definitionId, change }),
  });
  const url = `http://127.0.0.1:${service.port}`;
  const close = async () => {
    await service.stop();
    await db.destroy();
    await database.drop();
  };
  return {
    url,
    trpcUrl: `${url}/trpc`,
    service,
    db,
    prefix,
    taskQueue,
    changes,
    client: (token = BOOTSTRAP_TOKEN) => createActivityCoreClient({ url: `${url}/trpc`, token }),
    [Symbol.asyncDispose]: close,
  };
}

export const eventsTopology = (prefix: string) => topology(prefix);

/**
 * The API in-process over a worker harness's database, stream prefix and task queue, with
 * its default definition hook (schedules reconciled at once) under a schedule-id prefix of
 * the harness's own, and a client holding {@link BOOTSTRAP_TOKEN}.
 */
export async function startApiOnHarness(
  h: Pick<Harness, 'database' | 'prefix' | 'taskQueue'>,
  /** Settings over the defaults (e.g. a higher `AC_API_RATE_LIMIT_RPS` for a load test). */
  env: Readonly<Record<string, string>> = {},
): Promise<{ api: ApiService; client: ActivityCoreClient }> {
  const info = stackInfo();
  const api = await startApiService(
    loadConfig({
      DATABASE_URL: h.database.url,
      NATS_URL: info.natsUrl,
      TEMPORAL_ADDRESS: info.temporalAddress,
      TEMPORAL_NAMESPACE: info.temporalNamespace,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      AC_STREAM_PREFIX: h.prefix,
      AC_API_PORT: '0',
      AC_API_TOKEN: BOOTSTRAP_TOKEN,
      AC_SCHEDULE_ID_PREFIX: `${h.prefix.toLowerCase()}-def-`,
      LOG_LEVEL: 'error',
      ...env,
    }),
    { logger: silentLogger },
  );
  return {
    api,
    client: createActivityCoreClient({ url: `http://127.0.0.1:${api.port}/trpc`, token: BOOTSTRAP_TOKEN }),
  };
}

/**
 * This test file's worker harness (see {@link useWorkerHarness}) with the API started on it
 * ({@link startApiOnHarness}): both handed to `onReady` in `beforeAll`; the API stops in
 * `afterAll`, before the harness is disposed.
 */
export function useApiOnHarness(
  onReady: (h: Harness, started: { readonly api: ApiService; readonly client: ActivityCoreClient }) => void,
): void {
  let api: ApiService | undefined;
  useWorkerHarness(async (h) => {
    const started = await startApiOnHarness(h);
    api = started.api;
    onReady(h, started);
  });
  afterAll(async () => {
    await api?.stop();
  });
}

/** A non-batched tRPC response body (or the raw text when it was not JSON). */
export interface TrpcBody {
  readonly result?: { readonly data: unknown };
  readonly error?: {
    readonly message: string;
    readonly code: number;
    readonly data: {
      readonly code: string;
      readonly httpStatus: number;
      readonly fieldErrors: Array<{ path: string; message: string }> | null;
      readonly correlationId: string | null;
    };
  };
  readonly raw?: string;
}

/** One raw tRPC call over HTTP (no batching), for status codes. */
export async function rawCall(
  trpcUrl: string,
  path: string,
  type: 'query' | 'mutation',
  input: unknown,
  token?: string,
): Promise<{ status: number; body: TrpcBody }> {
  return rawTextCall(trpcUrl, path, type, input === undefined ? undefined : JSON.stringify(input), token);
}

/** {@link rawCall} with the input as JSON text, for inputs JSON.stringify cannot write (1e400, 10,000 levels). */
export async function rawTextCall(
  trpcUrl: string,
  path: string,
  type: 'query' | 'mutation',
  input: string | undefined,
  token?: string,
): Promise<{ status: number; body: TrpcBody }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res =
    type === 'query'
      ? await fetch(`${trpcUrl}/${path}${input === undefined ? '' : `?input=${encodeURIComponent(input)}`}`, {
          headers,
        })
      : await fetch(`${trpcUrl}/${path}`, {
          method: 'POST',
          headers,
          ...(input === undefined ? {} : { body: input }),
        });
  const text = await res.text();
  let body: TrpcBody;
  try {
    body = JSON.parse(text) as TrpcBody;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

/**
 * The documented shape of every API error (packages/api/README.md, "Errors"):
 * `{ error: { message, code, data: { code, httpStatus, path?, fieldErrors, correlationId } } }`,
 * `httpStatus` equal to the status, field errors for BAD_REQUEST, a correlation id for 500s,
 * no stack. Returns what is wrong, or an empty list.
 */
export function errorShapeProblems(status: number, body: TrpcBody): string[] {
  const problems: string[] = [];
  const e = body.error as Record<string, unknown> | undefined;
  if (!e || typeof e !== 'object') return [`no error object in ${JSON.stringify(body).slice(0, 200)}`];
  if (typeof e.message !== 'string') problems.push('error.message is not a string');
  if (typeof e.code !== 'number') problems.push('error.code is not a number');
  const data = e.data as Record<string, unknown> | undefined;
  if (!data || typeof data !== 'object') return [...problems, 'no error.data'];
  if (typeof data.code !== 'string') problems.push('data.code is not a string');
  if (data.httpStatus !== status)
    problems.push(`data.httpStatus ${String(data.httpStatus)} is not the status ${status}`);
  if (!(data.fieldErrors === null || Array.isArray(data.fieldErrors))) problems.push('data.fieldErrors');
  if (Array.isArray(data.fieldErrors)) {
    for (const f of data.fieldErrors as Array<Record<string, unknown>>) {
      if (typeof f.path !== 'string' || typeof f.message !== 'string')
        problems.push('a field error without path/message');
    }
  }
  if (!(data.correlationId === null || typeof data.correlationId === 'string')) problems.push('data.correlationId');
  if ('stack' in data || 'stack' in e) problems.push('a stack trace');
  const allowed = new Set(['code', 'httpStatus', 'path', 'fieldErrors', 'correlationId']);
  for (const key of Object.keys(data)) if (!allowed.has(key)) problems.push(`unexpected data.${key}`);
  return problems;
}

/** A valid event-triggered definition spec. */
export function eventSpec(key: string, overrides: Record<string, unknown> = {}) {
  return {
    key,
    name: `Definition ${key}`,
    trigger: {
      kind: 'event' as const,
      event: { types: ['order.created'], filter: 'event.data.total > 100' },
    },
    contextSources: [{ name: 'team', kind: 'static' as const, value: { lead: 'ada' } }],
    rules: [{ name: 'big', when: 'event.data.total > 100' }],
    taskTemplates: [
      {
        key: 'review',
        title: 'Review order {{ event.data.orderId }} for {{ context.team.lead }}',
        assignee: '{{ context.team.lead }}',
        labels: ['orders'],
      },
    ],
    ...overrides,
  };
}

/** A valid cron-triggered definition spec. */
export function cronSpec(key: string) {
  return {
    key,
    name: `Cron ${key}`,
    trigger: { kind: 'cron' as const, cron: { expression: '0 9 * * 1-5', timezone: 'Europe/Berlin' } },
    taskTemplates: [{ key: 'standup', title: 'Stand-up' }],
  };
}
