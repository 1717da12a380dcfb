// Resolution of a definition's context sources, in declaration order (a later source may use
// an earlier one as `context.<name>`). Runs inside the resolveContext activity.
import {
  type ActivityDefinitionSpec,
  type CompiledDefinition,
  type ContextSource,
  compileDefinition,
  formatCelError,
  renderTemplate,
  toCelValue,
} from '@activity-core/core';
import { type Database, lastSuccessfulRun, openTasksByDedupeKey } from '@activity-core/db';
import type { Kysely } from 'kysely';

/** A permanent context failure: retrying cannot fix it (4xx, host not allowed, bad config, too large). */
export class ContextSourceError extends Error {
  override readonly name = 'ContextSourceError';
  readonly source: string;
  readonly retryable: boolean;
  constructor(source: string, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(`context source ${source}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.source = source;
    this.retryable = options.retryable;
  }
}

/** What a custom resolver receives. `config` is the source's `config` as authored (unparsed). */
export interface ContextResolverArgs {
  readonly name: string;
  readonly config: unknown;
  readonly definition: { readonly id: string; readonly key: string; readonly version: number };
  readonly trigger: Readonly<Record<string, unknown>>;
  readonly event: unknown;
  /** Sources resolved so far. */
  readonly context: Readonly<Record<string, unknown>>;
  readonly signal: AbortSignal;
}

/** A custom context resolver: returns a JSON value. Throw `ContextSourceError` with `retryable: false` for permanent failures. */
export type ContextResolver = (args: ContextResolverArgs) => Promise<unknown>;

/**
 * Custom resolvers by name, registered in the worker:
 * `createContextResolverRegistry({ weather: async ({ config }) => … })`.
 */
export interface ContextResolverRegistry {
  get(name: string): ContextResolver | undefined;
  names(): string[];
}

export function createContextResolverRegistry(
  resolvers: Record<string, ContextResolver> = {},
): ContextResolverRegistry {
  const map = new Map(Object.entries(resolvers));
  return { get: (name) => map.get(name), names: () => [...map.keys()] };
}

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

export interface ResolveContextDeps {
  readonly db: Kysely<Database>;
  readonly http: HttpSourceSettings;
  readonly resolvers: ContextResolverRegistry;
}

export interface ResolveContextInput {
  readonly spec: ActivityDefinitionSpec;
  readonly definition: { readonly id: string; readonly key: string; readonly version: number };
  readonly trigger: Record<string, unknown>;
  readonly event: unknown;
  /** RFC 3339: `now` in templates. */
  readonly now: string;
}

/** The snapshot of one source as written to the run log (no secrets: see `scrubSecrets`). */
export interface SourceSnapshot {
  readonly name: string;
  readonly kind: ContextSource['kind'];
  readonly value: unknown;
  readonly detail?: Record<string, unknown>;
}

export interface ResolvedContext {
  readonly context: Record<string, unknown>;
  readonly snapshot: SourceSnapshot[];
  /** Secret values used; the caller scrubs them from anything it logs or returns. */
  readonly secrets: string[];
}

export async function resolveContextSources(
  deps: ResolveContextDeps,
  input: ResolveContextInput,
  signal: AbortSignal,
): Promise<ResolvedContext> {
  const context: Record<string, unknown> = {};
  const snapshot: SourceSnapshot[] = [];
  const secrets: string[] = [];
  let compiled: CompiledDefinition | undefined;
  const templates = () => {
    if (!compiled) {
      const result = compileDefinition(input.spec);
      if (!result.ok) {
        throw new ContextSourceError('*', `definition does not compile: ${result.errors[0]?.message ?? ''}`, {
          retryable: false,
        });
      }
      compiled = result.compiled;
    }
    return compiled.contextTemplates;
  };
  for (const source of input.spec.contextSources) {
    const vars = () => ({
      event: toCelValue(input.event ?? {}),
      context: toCelValue(context),
      trigger: toCelValue(input.trigger),
      definition: toCelValue(input.definition),
      now: new Date(input.now),
    });
    const render = (): Record<string, unknown> => {
      const value = templates().get(source.name);
      if (!value) return {};
      return renderCompiled(value, vars(), source.name) as Record<string, unknown>;
    };
    switch (source.kind) {
      case 'static':
        context[source.name] = source.value ?? null;
        snapshot.push({ name: source.name, kind: source.kind, value: context[source.name] });
        break;
      case 'previousRun': {
        const run = await lastSuccessfulRun(deps.db, input.definition.id);
        const value = run
          ? { runId: run.id, finishedAt: run.finishedAt?.toISOString() ?? null, summary: run.summary ?? null }
          : null;
        context[source.name] = value;
        snapshot.push({ name: source.name, kind: source.kind, value });
        break;
      }
      case 'openTasks': {
        const { dedupeKey } = render() as { dedupeKey?: unknown };
        if (typeof dedupeKey !== 'string' || dedupeKey === '') {
          throw new ContextSourceError(source.name, 'dedupeKey did not render to a non-empty string', {
            retryable: false,
          });
        }
        const tasks = await openTasksByDedupeKey(deps.db, input.definition.id, dedupeKey);
        const value = tasks.map((t) => ({
          id: t.id,
          workflowId: t.workflowId,
          title: t.title,
          assignee: t.assignee,
          dueAt: t.dueAt?.toISOString() ?? null,
          createdAt: t.createdAt.toISOString(),
        }));
        context[source.name] = value;
        snapshot.push({ name: source.name, kind: source.kind, value, detail: { dedupeKey } });
        break;
      }
      case 'http': {
        const rendered = render() as { url?: unknown; headers?: Record<string, unknown>; body?: unknown };
        const result = await fetchJson(deps.http, source, rendered, signal, secrets);
        context[source.name] = result.value;
        snapshot.push({ name: source.name, kind: source.kind, value: result.value, detail: result.detail });
        break;
      }
      case 'custom': {
        const resolver = deps.resolvers.get(source.resolver);
        if (!resolver) {
          throw new ContextSourceError(
            source.name,
            `no resolver "${source.resolver}" is registered in the worker (registered: ${deps.resolvers.names().join(', ') || 'none'})`,
            { retryable: false },
          );
        }
        const value =
          (await resolver({
            name: source.name,
            config: source.config,
            definition: input.definition,
            trigger: input.trigger,
            event: input.event,
            context: { ...context },
            signal,
          })) ?? null;
        context[source.name] = value;
        snapshot.push({ name: source.name, kind: source.kind, value, detail: { resolver: source.resolver } });
        break;
      }
      default:
        return assertNeverSource(source);
    }
  }
  return { context, snapshot, secrets };
}

function assertNeverSource(source: never): never {
  throw new ContextSourceError(JSON.stringify(source), 'unknown context source kind', { retryable: false });
}

type CompiledValue = CompiledDefinition['contextTemplates'] extends Map<string, infer V> ? V : never;

function renderCompiled(value: CompiledValue, vars: Record<string, unknown>, source: string): unknown {
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'template': {
      const result = renderTemplate(value.template, vars);
      if (!result.ok) {
        throw new ContextSourceError(source, `template ${value.template.source}: ${formatCelError(result.error)}`, {
          retryable: false,
        });
      }
      return result.value;
    }
    case 'array':
      return value.items.map((item) => renderCompiled(item, vars, source));
    case 'object':
      return Object.fromEntries(value.entries.map(([k, v]) => [k, renderCompiled(v, vars, source)]));
    default:
      throw new ContextSourceError(source, 'unknown template value', { retryable: false });
  }
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

type HttpSource = Extract<ContextSource, { kind: 'http' }>;

async function fetchJson(
  settings: HttpSourceSettings,
  source: HttpSource,
  rendered: { url?: unknown; headers?: Record<string, unknown>; body?: unknown },
  signal: AbortSignal,
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
  let lastError: unknown;
  for (let attempt = 0; attempt <= source.retries; attempt++) {
    if (attempt > 0) await delay(Math.min(200 * 2 ** (attempt - 1), 5_000), signal);
    const started = Date.now();
    try {
      const response = await doFetch(url, {
        method: source.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(source.timeoutMs)]),
        redirect: 'manual',
      });
      const text = await readCapped(response, source.maxResponseBytes, name);
      detail.status = response.status;
      detail.bytes = Buffer.byteLength(text);
      detail.ms = Date.now() - started;
      detail.attempts = attempt + 1;
      if (response.status >= 500 || response.status === 429) {
        lastError = new ContextSourceError(name, `HTTP ${response.status}`, { retryable: true });
        continue;
      }
      if (response.status >= 300) {
        throw new ContextSourceError(name, `HTTP ${response.status} from ${url.host}`, { retryable: false });
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
    } catch (error) {
      if (error instanceof ContextSourceError && !error.retryable) throw error;
      if (signal.aborted) throw error;
      // Network errors and timeouts are transient.
      lastError = error;
    }
  }
  throw lastError instanceof ContextSourceError
    ? lastError
    : new ContextSourceError(name, `request failed after ${source.retries + 1} attempts: ${describe(lastError)}`, {
        retryable: true,
        cause: lastError,
      });
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

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Replaces every occurrence of a secret value, at any depth, with `[redacted]`. */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): T {
  const live = secrets.filter((s) => s.length >= 4);
  if (live.length === 0) return value;
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return live.reduce((s, secret) => s.split(secret).join('[redacted]'), v);
    if (Array.isArray(v)) return v.map(scrub);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return scrub(value) as T;
}
