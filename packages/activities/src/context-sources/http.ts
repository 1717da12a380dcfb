// The `http` context source: an allow-listed GET or POST whose JSON (or text) answer becomes
// the source's value. Secret headers come from the worker's AC_SECRET_* variables. One request
// per activity attempt: the resolveContext activity's retry policy is the only retry, and a
// failure retrying cannot fix is thrown as non-retryable.
import { ContextSourceError } from './errors.ts';
import type { SourceOfKind, SourceResolver } from './source-resolver.ts';

export interface HttpSourceSettings {
  /**
   * Hosts an http source may call: exact names (`api.example.com`), `host:port`, or a
   * `*.example.com` suffix. Empty: no http source may run.
   */
  readonly allowedHosts: readonly string[];
  /** Where `secretHeaders` values come from (the worker's environment). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

/** `http`: fetches the rendered URL from an allowed host; the answer is the source's value. */
export function httpSource(settings: HttpSourceSettings): SourceResolver<'http'> {
  return async (source, scope) => {
    const rendered = scope.render() as { url?: unknown; headers?: Record<string, unknown>; body?: unknown };
    const secrets: string[] = [];
    const result = await fetchJson(settings, source, rendered, scope.signal, scope.attempt, secrets);
    return { value: result.value, detail: result.detail, secrets };
  };
}

/** True when `url`'s host is on the allow-list (exact host, host:port, or `*.suffix`). */
export function isHostAllowed(url: URL, allowedHosts: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  const hostPort = url.port ? `${host}:${url.port}` : host;
  return allowedHosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e === '') return false;
    if (e.startsWith('*.')) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
    return e === host || e === hostPort;
  });
}

async function fetchJson(
  settings: HttpSourceSettings,
  source: SourceOfKind['http'],
  rendered: { url?: unknown; headers?: Record<string, unknown>; body?: unknown },
  signal: AbortSignal,
  attempt: number,
  secrets: string[],
): Promise<{ value: unknown; detail: Record<string, unknown> }> {
  const name = source.name;
  if (typeof rendered.url !== 'string')
    throw new ContextSourceError(name, 'url did not render to text', { retryable: false });
  let url: URL;
  try {
    url = new URL(rendered.url);
  } catch {
    throw new ContextSourceError(name, `url "${rendered.url}" is not a valid URL`, { retryable: false });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ContextSourceError(name, `url scheme ${url.protocol} is not allowed (http or https only)`, {
      retryable: false,
    });
  }
  if (!isHostAllowed(url, settings.allowedHosts)) {
    throw new ContextSourceError(name, `host ${url.host} is not in the worker's AC_HTTP_ALLOWED_HOSTS`, {
      retryable: false,
    });
  }
  const headers = new Headers({ accept: 'application/json' });
  for (const [header, value] of Object.entries(rendered.headers ?? {})) headers.set(header, String(value ?? ''));
  for (const [header, envName] of Object.entries(source.secretHeaders ?? {})) {
    // The schema allows only AC_SECRET_*; checked again here because specs stored before that
    // rule, or written around the API, reach the worker too.
    if (!/^AC_SECRET_[A-Z0-9_]+$/.test(envName)) {
      throw new ContextSourceError(name, `secret ${envName} is not an AC_SECRET_* variable`, { retryable: false });
    }
    const secret = settings.env[envName];
    if (secret === undefined || secret === '') {
      throw new ContextSourceError(name, `secret environment variable ${envName} is not set in the worker`, {
        retryable: false,
      });
    }
    secrets.push(secret);
    headers.set(header, secret);
  }
  let body: string | undefined;
  if (source.method === 'POST') {
    body = JSON.stringify(rendered.body ?? null);
    headers.set('content-type', 'application/json');
  }
  const doFetch = settings.fetch ?? fetch;
  const detail: Record<string, unknown> = { method: source.method, url: url.toString() };
  const started = Date.now();
  let response: Response;
  let text: string;
  try {
    response = await doFetch(url, {
      method: source.method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.any([signal, AbortSignal.timeout(source.timeoutMs)]),
      redirect: 'manual',
    });
    text = await readCapped(response, source.maxResponseBytes, name);
  } catch (error) {
    if (error instanceof ContextSourceError || signal.aborted) throw error;
    // Network errors and timeouts are transient: the activity's retry policy tries again.
    throw new ContextSourceError(name, `request to ${url.host} failed: ${describe(error)}`, {
      retryable: true,
      cause: error,
    });
  }
  detail.status = response.status;
  detail.bytes = Buffer.byteLength(text);
  detail.ms = Date.now() - started;
  detail.attempts = attempt;
  if (response.status >= 300) {
    throw new ContextSourceError(name, `HTTP ${response.status} from ${url.host}`, {
      retryable: isRetryableStatus(response.status),
    });
  }
  const type = response.headers.get('content-type') ?? '';
  if (text === '') return { value: null, detail };
  if (/json/i.test(type)) {
    try {
      return { value: JSON.parse(text) as unknown, detail };
    } catch (error) {
      throw new ContextSourceError(name, 'response is not valid JSON', { retryable: false, cause: error });
    }
  }
  return { value: text, detail };
}

/**
 * Whether a failed answer may succeed when asked again: 408 (timeout), 429 (rate limited) and
 * 5xx. Every other status (redirects are not followed, 4xx) fails the same way each time.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.name === 'TimeoutError' ? 'timed out' : error.message;
  return String(error);
}

async function readCapped(response: Response, maxBytes: number, source: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new ContextSourceError(source, `response of ${declared} bytes exceeds maxResponseBytes = ${maxBytes}`, {
      retryable: false,
    });
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new ContextSourceError(source, `response exceeds maxResponseBytes = ${maxBytes}`, { retryable: false });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
