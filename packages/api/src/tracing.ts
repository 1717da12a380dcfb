// Spans of the API, made only when the service runs with tracing on (a tracer is given): one
// SERVER span per HTTP request under the caller's W3C `traceparent` header, and one span per
// tRPC procedure under it. Whatever a procedure does next (the Temporal client's update or
// signal spans, an event published to NATS) hangs under its procedure's span, so a task
// completed through the API is one trace from the caller to the task event.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextFromTraceparent, traceparentOf } from '@activity-core/runtime';
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * `handler` with a SERVER span per request: named `{method} {basePath}` (the procedure names
 * are in its children: a batch carries several), with the request method, path and response
 * status; ERROR for a 5xx. The handler runs inside the span's context.
 */
export function tracedHandler(
  tracer: Tracer,
  basePath: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // OpenTelemetry's HTTP conventions: a method outside the known set is `_OTHER` (span names
    // stay a small set whatever a client sends); the route only for requests under the API's path.
    const method = KNOWN_METHODS.has(req.method ?? '') ? (req.method as string) : '_OTHER';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const routed = path === basePath || path.startsWith(`${basePath}/`);
    const parent = contextFromTraceparent(header(req.headers.traceparent), header(req.headers.tracestate));
    const span = tracer.startSpan(
      routed ? `${method} ${basePath}` : method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          'url.path': path,
          ...(routed ? { 'http.route': basePath } : {}),
        },
      },
      parent,
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(trace.setSpan(parent, span), () => handler(req, res));
  };
}

/**
 * Runs one procedure under a child span of the request's span, `trpc {path}`; does nothing
 * (no span code at all) when tracing is off. The result's error code marks a failed call.
 */
export async function inProcedureSpan<R extends { ok: boolean; error?: { code: string } }>(
  tracer: Tracer | undefined,
  path: string,
  type: string,
  run: () => Promise<R>,
): Promise<R> {
  if (tracer === undefined) return run();
  return tracer.startActiveSpan(
    `trpc ${path}`,
    { attributes: { 'rpc.system': 'trpc', 'rpc.method': path, 'activity_core.trpc.type': type } },
    async (span) => {
      try {
        const result = await run();
        if (!result.ok && result.error) {
          span.setAttribute('activity_core.trpc.error_code', result.error.code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.error.code });
        }
        return result;
      } finally {
        span.end();
      }
    },
  );
}

/** The `traceparent` of the active span, for a message the API sends on; undefined without one. */
export function activeTraceparent(): string | undefined {
  return traceparentOf(trace.getActiveSpan());
}
