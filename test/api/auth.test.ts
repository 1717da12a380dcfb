import { connect } from 'node:net';
import { appRouter } from '@activity-core/api';
import { createApiToken } from '@activity-core/db';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BOOTSTRAP_TOKEN, errorShapeProblems, rawCall, startTestApi, type TestApi, type TrpcBody } from './support.ts';

type Scope = 'read' | 'write' | 'admin';
interface ProcedureInfo {
  readonly path: string;
  readonly type: 'query' | 'mutation';
  readonly scope: Scope;
}

/** Every procedure of the router, read from the router itself so a new one cannot be missed. */
function allProcedures(): ProcedureInfo[] {
  const procedures = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { type: string; meta?: { scope?: Scope } } }
  >;
  return Object.entries(procedures).map(([path, p]) => {
    const scope = p._def.meta?.scope;
    if (!scope) throw new Error(`procedure ${path} declares no scope`);
    return { path, type: p._def.type as 'query' | 'mutation', scope };
  });
}

const procedures = allProcedures();
const lower: Record<Scope, Scope | 'none'> = { read: 'none', write: 'read', admin: 'write' };

let api: TestApi;
const tokens: Record<Scope | 'none', string> = { none: '', read: '', write: '', admin: '' };

beforeAll(async () => {
  api = await startTestApi();
  for (const scope of ['read', 'write', 'admin'] as const) {
    tokens[scope] = (await createApiToken(api.db, { name: `t-${scope}`, scopes: [scope] })).secret;
  }
  tokens.none = (await createApiToken(api.db, { name: 't-none', scopes: [] })).secret;
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
});

test("the router has exactly the contract procedures (plus tokens.*, schedules.*, outbox.* the operator CLI's and runs.cancel)", () => {
  expect(procedures.map((p) => `${p.path}:${p.type}:${p.scope}`).sort()).toEqual(
    [
      'deadLetters.get:query:admin',
      'deadLetters.list:query:read',
      'definitions.archive:mutation:write',
      'definitions.backtest:query:read',
      'definitions.create:mutation:write',
      'definitions.diff:query:read',
      'definitions.dryRun:query:read',
      'definitions.get:query:read',
      'definitions.list:query:read',
      'definitions.previewSchedule:query:read',
      'definitions.replay:mutation:admin',
      'definitions.setEnabled:mutation:write',
      'definitions.update:mutation:write',
      'definitions.versions:query:read',
      'events.publish:mutation:write',
      'events.redrive:mutation:admin',
      'outbox.list:query:read',
      'outbox.retry:mutation:admin',
      'outbox.skip:mutation:admin',
      'runs.cancel:mutation:write',
      'runs.follow:query:read',
      'runs.get:query:read',
      'runs.list:query:read',
      'runs.logs:query:read',
      'runs.trigger:mutation:write',
      'schedules.backfill:mutation:write',
      'schedules.describe:query:read',
      'schedules.reconcile:mutation:admin',
      'schedules.trigger:mutation:write',
      'tasks.cancel:mutation:write',
      'tasks.complete:mutation:write',
      'tasks.get:query:read',
      'tasks.list:query:read',
      'tokens.create:mutation:admin',
      'tokens.list:query:admin',
      'tokens.revoke:mutation:admin',
    ].sort(),
  );
});

describe.each(procedures)('$path ($scope)', ({ path, type, scope }) => {
  test('no valid token: 401, whatever the input', async () => {
    const inputs = [undefined, {}, { id: 'x' }];
    const credentials = [
      undefined,
      '',
      'nope',
      `${BOOTSTRAP_TOKEN}x`,
      'act_00000000000000000000000000000000_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    ];
    for (const token of credentials) {
      const { status, body } = await rawCall(api.trpcUrl, path, type, inputs[credentials.indexOf(token) % 3], token);
      expect(status, `token ${token}`).toBe(401);
      expect(body.error?.data.code).toBe('UNAUTHORIZED');
    }
    // A header that is not a bearer token at all.
    const res = await fetch(`${api.trpcUrl}/${path}`, {
      method: type === 'query' ? 'GET' : 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`x:${BOOTSTRAP_TOKEN}`).toString('base64')}`,
        'content-type': 'application/json',
      },
    });
    expect(res.status).toBe(401);
  });

  test('a token without the scope: 403; with it: neither 401 nor 403', async () => {
    const weaker = tokens[lower[scope]];
    const denied = await rawCall(api.trpcUrl, path, type, {}, weaker);
    expect(denied.status).toBe(403);
    expect(denied.body.error?.data.code).toBe('FORBIDDEN');
    for (const granted of ['read', 'write', 'admin'] as const) {
      const allowed = ['read', 'write', 'admin'].indexOf(granted) >= ['read', 'write', 'admin'].indexOf(scope);
      if (!allowed) continue;
      const { status } = await rawCall(api.trpcUrl, path, type, {}, tokens[granted]);
      expect([401, 403], `${granted} on ${path}`).not.toContain(status);
    }
  });
});

describe('tokens', () => {
  test('admins create, list and revoke tokens; a revoked or expired token is refused', async () => {
    const admin = api.client();
    const { token, secret } = await admin.tokens.create.mutate({ name: 'ci', scopes: ['read'] });
    expect(secret).toMatch(/^act_/);
    expect(token).toMatchObject({ name: 'ci', scopes: ['read'], revokedAt: null });
    const listed = await admin.tokens.list.query();
    expect(listed.map((t) => t.id)).toContain(token.id);
    expect(JSON.stringify(listed)).not.toContain(secret);
    // The secret is stored hashed only.
    const stored = await api.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', token.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(secret.slice(-20));

    expect((await rawCall(api.trpcUrl, 'definitions.list', 'query', {}, secret)).status).toBe(200);
    await admin.tokens.revoke.mutate({ id: token.id });
    expect((await rawCall(api.trpcUrl, 'definitions.list', 'query', {}, secret)).status).toBe(401);

    const expired = await createApiToken(api.db, {
      name: 'old',
      scopes: ['admin'],
      expiresAt: new Date(Date.now() - 1000),
    });
    expect((await rawCall(api.trpcUrl, 'definitions.list', 'query', {}, expired.secret)).status).toBe(401);
  });
});

describe('unexpected errors', () => {
  test('are 500 with a correlation id, and leak neither the message nor a stack', async () => {
    const deps = api.service.deps as { maxPayloadBytes: () => number };
    const original = deps.maxPayloadBytes;
    deps.maxPayloadBytes = () => {
      throw new Error('boom postgres://admin:hunter2@db.internal/x');
    };
    try {
      const { status, body } = await rawCall(
        api.trpcUrl,
        'events.publish',
        'mutation',
        { specversion: '1.0', id: 'e-1', source: 'urn:test', type: 'order.created' },
        BOOTSTRAP_TOKEN,
      );
      expect(status).toBe(500);
      expect(body.error?.data.code).toBe('INTERNAL_SERVER_ERROR');
      expect(body.error?.data.correlationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.error?.message).toContain(body.error?.data.correlationId ?? '-');
      const text = JSON.stringify(body);
      expect(text).not.toMatch(/hunter2|boom|stack|at .*\.ts/);
    } finally {
      deps.maxPayloadBytes = original;
    }
  });
});

describe('HTTP edges', () => {
  let small: TestApi;
  beforeAll(async () => {
    small = await startTestApi({
      AC_API_RATE_LIMIT_RPS: '1',
      AC_API_RATE_LIMIT_BURST: '3',
      AC_API_MAX_BODY_BYTES: '4096',
      AC_API_CORS_ORIGINS: 'https://app.example',
    });
  });
  afterAll(async () => {
    await small?.[Symbol.asyncDispose]();
  });

  test('a token over its rate limit gets 429, other tokens do not', async () => {
    const { secret } = await createApiToken(small.db, { name: 'busy', scopes: ['read'] });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await rawCall(small.trpcUrl, 'definitions.list', 'query', {}, secret)).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toContain(429);
    expect((await rawCall(small.trpcUrl, 'definitions.list', 'query', {}, BOOTSTRAP_TOKEN)).status).toBe(200);
  });

  test('a body over the limit gets 413, with or without a content-length', async () => {
    const body = JSON.stringify({ spec: { key: 'x'.repeat(10_000) } });
    const res = await fetch(`${small.trpcUrl}/definitions.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP_TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(413);
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(body));
        c.close();
      },
    });
    const chunked = await fetch(`${small.trpcUrl}/definitions.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP_TOKEN}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  test('what the HTTP layer answers itself has the shape of every API error: 413 (both ways), 431, 404, 417', async () => {
    const headers = { authorization: `Bearer ${BOOTSTRAP_TOKEN}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ spec: { key: 'x'.repeat(10_000) } });
    const answers: Array<[string, number, TrpcBody]> = [];
    const add = async (what: string, res: Response) => {
      const text = await res.text();
      answers.push([what, res.status, JSON.parse(text) as TrpcBody]);
    };
    await add(
      '413 by content-length',
      await fetch(`${small.trpcUrl}/definitions.create`, { method: 'POST', headers, body }),
    );
    await add(
      '413 chunked',
      await fetch(`${small.trpcUrl}/definitions.create`, {
        method: 'POST',
        headers,
        body: new Blob([body]).stream(),
        duplex: 'half',
      } as RequestInit),
    );
    await add('404', await fetch(`${small.url}/elsewhere`));
    // Node's parser answers these before any handler: over raw sockets, as a client sends them.
    const raw = async (what: string, request: string) => {
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(small.url).port), '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
        socket.end(request);
      });
      const split = response.indexOf('\r\n\r\n');
      const head = response.slice(0, split);
      let json = response.slice(split + 4);
      if (/^transfer-encoding: *chunked/im.test(head)) {
        let decoded = '';
        for (let rest = json; ; ) {
          const eol = rest.indexOf('\r\n');
          const size = Number.parseInt(rest.slice(0, eol), 16);
          if (!(size > 0)) break;
          decoded += rest.slice(eol + 2, eol + 2 + size);
          rest = rest.slice(eol + 2 + size + 2);
        }
        json = decoded;
      }
      answers.push([what, Number(head.split(' ')[1]), JSON.parse(json) as TrpcBody]);
    };
    await raw('431', `GET /trpc/definitions.list HTTP/1.1\r\nhost: x\r\nx-big: ${'h'.repeat(20_000)}\r\n\r\n`);
    await raw('417', 'GET /trpc/definitions.list HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\nconnection: close\r\n\r\n');
    await raw('400 malformed', 'GET /trpc/definitions.list HTTP/1.1\r\nbad header line\r\n\r\n');
    expect(answers.map(([what, status]) => [what, status])).toEqual([
      ['413 by content-length', 413],
      ['413 chunked', 413],
      ['404', 404],
      ['431', 431],
      ['417', 417],
      ['400 malformed', 400],
    ]);
    for (const [what, status, answer] of answers) {
      expect(errorShapeProblems(status, answer), `${what}: ${JSON.stringify(answer)}`).toEqual([]);
    }
    expect(answers.map(([, , answer]) => answer.error?.data.code)).toEqual([
      'PAYLOAD_TOO_LARGE',
      'PAYLOAD_TOO_LARGE',
      'NOT_FOUND',
      'REQUEST_HEADER_FIELDS_TOO_LARGE',
      'EXPECTATION_FAILED',
      'BAD_REQUEST',
    ]);
  });

  test('CORS answers allowed origins only', async () => {
    const preflight = await fetch(`${small.trpcUrl}/definitions.list`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await fetch(`${small.trpcUrl}/definitions.list`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.status).toBe(401);
  });

  test('/healthz, /readyz (PostgreSQL, NATS, Temporal) and /metrics sit beside /trpc', async () => {
    expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${small.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { postgres: 'ok', nats: 'ok', temporal: 'ok' },
      tzdata: process.versions.tz,
    });
    const metrics = await (await fetch(`${small.url}/metrics`)).text();
    expect(metrics).toContain('ac_api_request_duration_seconds_bucket');
    expect((await fetch(`${small.url}/elsewhere`)).status).toBe(404);
  });
});
