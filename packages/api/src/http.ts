import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Tracer } from '@opentelemetry/api';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { type ApiDeps, createContextFactory } from './context.ts';
import { type HttpErrorCode, httpErrorBody } from './errors.ts';
import { appRouter } from './router.ts';
import { tracedHandler } from './tracing.ts';

export interface ApiHandlerOptions {
  readonly deps: ApiDeps;
  /** Default `/trpc`. */
  readonly basePath?: string;
  /** Largest request body in bytes (413 above). Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Origins allowed to call from a browser (`*` for any). Empty: no CORS headers at all. */
  readonly corsOrigins?: readonly string[];
  /** With tracing on: a SERVER span per request under its `traceparent` header. */
  readonly tracer?: Tracer | undefined;
}

const CORS_ALLOW_HEADERS = 'authorization, content-type, trpc-accept, x-trpc-source';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The HTTP side of the API: tRPC under `basePath`, request size limit, CORS. Meant as the
 * `fallback` of the runtime's ops server, which serves `/healthz`, `/readyz` and `/metrics`.
 * Errors it answers itself (unknown path 404, body too large 413) have the shape of every API
 * error (see `httpErrorBody`).
 */
export function createApiHandler(options: ApiHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const basePath = `/${(options.basePath ?? '/trpc').replace(/^\/+|\/+$/g, '')}`;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const origins = new Set(options.corsOrigins ?? []);
  const trpc = createHTTPHandler({
    router: appRouter,
    createContext: createContextFactory(options.deps),
    basePath: `${basePath}/`,
    maxBodySize: maxBodyBytes,
    // Queries whose input is too large for a URL (a definition for `diff`, `dryRun`, `backtest`)
    // may come as POST; the client's `methodOverride: 'POST'` sends them so.
    allowMethodOverride: true,
  });
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== basePath && !path.startsWith(`${basePath}/`)) {
      json(res, 404, httpErrorBody(404, 'NOT_FOUND', `no route ${path}; the API is under ${basePath}`));
      return;
    }
    const origin = req.headers.origin;
    if (origin && (origins.has('*') || origins.has(origin))) {
      res.setHeader('access-control-allow-origin', origins.has('*') ? '*' : origin);
      res.setHeader('vary', 'origin');
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
        res.setHeader('access-control-allow-headers', CORS_ALLOW_HEADERS);
        res.setHeader('access-control-max-age', '600');
        res.writeHead(204).end();
        return;
      }
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(length) && length > maxBodyBytes) {
      // Answer before reading the body; tRPC's own limit covers chunked bodies without a length.
      res.setHeader('connection', 'close');
      json(res, 413, httpErrorBody(413, 'PAYLOAD_TOO_LARGE', `request body larger than ${maxBodyBytes} bytes`));
      req.resume();
      return;
    }
    trpc(req, res);
  };
  return options.tracer ? tracedHandler(options.tracer, basePath, handle) : handle;
}

export interface ClientErrorOptions {
  /** The server's `maxHeaderSize`, for the 431 message. */
  readonly maxHeaderBytes: number;
}

/**
 * Node's HTTP server answers some requests before any handler runs, by default with a bare
 * status line and no body: headers over `maxHeaderSize` (431), a request its parser rejects
 * (400), one that outlives `requestTimeout`/`headersTimeout` (408), and an `Expect` header
 * other than `100-continue` (417). With these listeners each gets the API's error shape, then
 * the connection is closed. Only a connection that is already gone (reset, not writable) gets
 * no answer at all.
 */
export function answerClientErrors(server: Server, options: ClientErrorOptions): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message]: [number, HttpErrorCode, string] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'REQUEST_HEADER_FIELDS_TOO_LARGE', `request headers larger than ${options.maxHeaderBytes} bytes`]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'TIMEOUT', 'the request was not received in time']
          : [400, 'BAD_REQUEST', 'malformed HTTP request'];
    const body = JSON.stringify(httpErrorBody(status, code, message));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('connection', 'close');
    json(res, 417, httpErrorBody(417, 'EXPECTATION_FAILED', `Expect: ${String(req.headers.expect)} is not supported`));
  });
}
