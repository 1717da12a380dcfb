import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { type ApiDeps, createContextFactory } from './context.ts';
import { appRouter } from './router.ts';

export interface ApiHandlerOptions {
  readonly deps: ApiDeps;
  /** Default `/trpc`. */
  readonly basePath?: string;
  /** Largest request body in bytes (413 above). Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Origins allowed to call from a browser (`*` for any). Empty: no CORS headers at all. */
  readonly corsOrigins?: readonly string[];
}

const CORS_ALLOW_HEADERS = 'authorization, content-type, trpc-accept, x-trpc-source';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The HTTP side of the API: tRPC under `basePath`, request size limit, CORS. Meant as the
 * `fallback` of the runtime's ops server, which serves `/healthz`, `/readyz` and `/metrics`.
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
  });
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== basePath && !path.startsWith(`${basePath}/`)) {
      json(res, 404, { error: 'not found' });
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
      json(res, 413, {
        error: { message: `request body larger than ${maxBodyBytes} bytes`, code: 'PAYLOAD_TOO_LARGE' },
      });
      req.resume();
      return;
    }
    trpc(req, res);
  };
}
