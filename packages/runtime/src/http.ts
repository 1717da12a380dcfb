import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<void>;

export interface OpsServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Named dependency checks for `/readyz`; each throws when its dependency is unavailable. */
  readonly readiness?: Readonly<Record<string, ReadinessCheck>>;
  readonly metrics?: Registry;
  /**
   * More Prometheus text served on /metrics after the registry's, read at each scrape (the
   * Temporal SDK's own exporter); its families must not share a name with the registry's.
   */
  readonly moreMetrics?: () => Promise<string>;
  /** Handles everything that is not an ops route (e.g. the tRPC adapter). */
  readonly fallback?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Timeout per readiness check. */
  readonly checkTimeoutMs?: number;
  /** Node's `maxHeaderSize`: larger request headers are refused by the HTTP parser (431). Default 16 KiB. */
  readonly maxHeaderBytes?: number;
}

export interface OpsServer {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

async function withTimeout(check: ReadinessCheck, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz` (the process is up), `/readyz` (each dependency answers; 503 with the failing
 * ones otherwise; with `tzdata`, the version of the tz data this process reads local time
 * with) and `/metrics` (Prometheus text). Other paths go to `fallback` or 404.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer({ maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      void readiness(options).then(({ ok, checks }) => {
        res
          .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ status: ok ? 'ready' : 'unavailable', checks, tzdata: process.versions.tz ?? 'unknown' }),
          );
      });
      return;
    }
    if (req.method === 'GET' && path === '/metrics' && options.metrics) {
      const registry = options.metrics;
      const more = options.moreMetrics;
      void Promise.all([registry.metrics(), more ? more() : '']).then(
        ([ours, theirs]) =>
          res
            .writeHead(200, { 'content-type': registry.contentType })
            .end(theirs === '' ? ours : `${ours.endsWith('\n') ? ours : `${ours}\n`}${theirs}`),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (options.fallback) {
      options.fallback(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function readiness(options: OpsServerOptions): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const entries = Object.entries(options.readiness ?? {});
  const results = await Promise.all(
    entries.map(async ([name, check]) => {
      try {
        await withTimeout(check, options.checkTimeoutMs ?? 2000);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  return { ok: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
}
