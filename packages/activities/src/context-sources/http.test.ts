import { ContextSource } from '@activity-core/core';
import { describe, expect, test } from 'vitest';
import { ContextSourceError } from './errors.ts';
import { httpSource, isHostAllowed, isRetryableStatus } from './http.ts';
import type { SourceScope } from './source-resolver.ts';

describe('isHostAllowed', () => {
  const allowed = ['api.example.com', 'localhost:8080', '*.internal.test'];
  test.each([
    ['https://api.example.com/x', true],
    ['https://API.EXAMPLE.COM/x', true],
    ['https://api.example.com:8443/x', true],
    ['https://evil-api.example.com/x', false],
    ['https://api.example.com.evil.io/x', false],
    ['http://localhost:8080/', true],
    ['http://localhost:9090/', false],
    ['http://localhost/', false],
    ['https://a.internal.test/', true],
    ['https://a.b.internal.test/', true],
    ['https://internal.test/', false],
    ['https://xinternal.test/', false],
  ])('%s → %s', (url, expected) => {
    expect(isHostAllowed(new URL(url), allowed)).toBe(expected);
  });

  test('an empty allow-list allows nothing', () => {
    expect(isHostAllowed(new URL('https://api.example.com'), [])).toBe(false);
    expect(isHostAllowed(new URL('https://api.example.com'), [' ', ''])).toBe(false);
  });
});

describe('the http source', () => {
  const source = (extra: Record<string, unknown> = {}) => {
    const parsed = ContextSource.parse({ name: 'crm', kind: 'http', url: 'https://api.example.com/x', ...extra });
    if (parsed.kind !== 'http') throw new Error('expected an http source');
    return parsed;
  };
  const scope = (attempt = 1): SourceScope => ({
    definition: { id: 'd1', key: 'k', version: 1 },
    trigger: {},
    event: {},
    context: {},
    render: () => ({ url: 'https://api.example.com/x' }),
    signal: new AbortController().signal,
    attempt,
  });
  /** An http source whose fetch answers with `answer` and counts its calls. */
  const withFetch = (answer: () => Promise<Response>, allowedHosts = ['api.example.com']) => {
    const calls: string[] = [];
    const resolve = httpSource({
      allowedHosts,
      env: {},
      fetch: async (url) => {
        calls.push(String(url));
        return answer();
      },
    });
    return { calls, resolve };
  };
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ContextSourceError);
    return error as ContextSourceError;
  };

  test('a JSON answer is the value; the detail records the activity attempt', async () => {
    const { calls, resolve } = withFetch(async () => Response.json({ tier: 'gold' }));
    const result = await resolve(source(), scope(2));
    expect(result.value).toEqual({ tier: 'gold' });
    expect(result.detail).toMatchObject({ status: 200, attempts: 2, method: 'GET' });
    expect(calls).toHaveLength(1);
  });

  test.each([408, 429, 500, 503])(
    'HTTP %i is retryable, and asked once: the activity retries, not the client',
    async (status) => {
      const { calls, resolve } = withFetch(async () => new Response('busy', { status }));
      const error = await failure(resolve(source({ retries: 5 }), scope()));
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(`HTTP ${status}`);
      expect(calls).toHaveLength(1);
    },
  );

  test.each([301, 400, 401, 403, 404, 422])('HTTP %i is not retryable', async (status) => {
    const { calls, resolve } = withFetch(async () => new Response('no', { status }));
    const error = await failure(resolve(source({ retries: 5 }), scope()));
    expect(error.retryable).toBe(false);
    expect(calls).toHaveLength(1);
  });

  test('a network error is retryable and names the host', async () => {
    const { calls, resolve } = withFetch(async () => {
      throw new TypeError('fetch failed');
    });
    const error = await failure(resolve(source(), scope()));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('api.example.com');
    expect(calls).toHaveLength(1);
  });

  test('a host outside the allow-list is not retryable and is never called', async () => {
    const { calls, resolve } = withFetch(async () => Response.json({}), ['other.example.com']);
    const error = await failure(resolve(source(), scope()));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('AC_HTTP_ALLOWED_HOSTS');
    expect(calls).toHaveLength(0);
  });

  test('isRetryableStatus: 408, 429 and 5xx only', () => {
    expect([200, 301, 400, 404, 407, 408, 409, 429, 500, 599].filter(isRetryableStatus)).toEqual([408, 429, 500, 599]);
  });
});
