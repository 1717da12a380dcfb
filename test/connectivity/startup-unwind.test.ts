// A service whose start-up fails half-way releases what it had opened: no NATS connection left
// reconnecting, no database connection, no consumer or worker left running. The failure here is
// the last step of every start-up, its ops port already taken (EADDRINUSE), so every resource
// of the service was open when it failed. Each service gets its own nats-server (its
// monitoring endpoint counts exactly this service's connections) and its own database.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiService } from '@activity-core/api-service';
import { loadConfig as loadApiConfig } from '@activity-core/api-service/config';
import { createDb, migrateToLatest } from '@activity-core/db';
import { startIngestService } from '@activity-core/ingest-service';
import { loadConfig as loadIngestConfig } from '@activity-core/ingest-service/config';
import { type Logger, silentLogger } from '@activity-core/runtime';
import { freePort, type RunningNats, startNats } from '@activity-core/stack';
import { startWorkerService } from '@activity-core/worker-service';
import { loadConfig as loadWorkerConfig } from '@activity-core/worker-service/config';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, stackInfo, type TestDatabase, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';

let nats: RunningNats;
let natsDir: string;

beforeAll(async () => {
  natsDir = mkdtempSync(join(tmpdir(), 'ac-unwind-nats-'));
  nats = await startNats({ dir: natsDir, port: await freePort(), monitorPort: await freePort() });
});

afterAll(async () => {
  await nats?.stop();
  if (natsDir) rmSync(natsDir, { recursive: true, force: true });
});

/** Open client connections on this test's own nats-server. */
async function natsConnections(): Promise<number> {
  const body = (await (await fetch(`${nats.monitorUrl}/connz?state=open`)).json()) as { num_connections: number };
  return body.num_connections;
}

/** Sessions on `database` other than the one asking. */
async function databaseSessions(database: TestDatabase): Promise<number> {
  const client = new pg.Client({ connectionString: stackInfo().adminDatabaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'select count(*) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database.name],
    );
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

/** A listener on a free loopback port, so the service's ops server cannot bind it. */
async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

function baseEnv(database: TestDatabase): Record<string, string> {
  const info = stackInfo();
  const prefix = uniqueId('U');
  return {
    DATABASE_URL: database.url,
    NATS_URL: nats.url,
    TEMPORAL_ADDRESS: info.temporalAddress,
    TEMPORAL_NAMESPACE: info.temporalNamespace,
    TEMPORAL_TASK_QUEUE: uniqueId('tq-'),
    AC_STREAM_PREFIX: prefix,
    AC_SCHEDULE_ID_PREFIX: `${prefix.toLowerCase()}-def-`,
    LOG_LEVEL: 'error',
  };
}

/** A silent logger that keeps its warnings (a release that failed is one). */
function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    ...silentLogger,
    warn: (message: string, fields?: Record<string, unknown>) => {
      warnings.push(`${message} ${JSON.stringify(fields ?? {})}`);
    },
    child: () => logger,
    warnings,
  };
  return logger;
}

/**
 * Starts a service on a taken port and checks that the start fails, every release succeeded
 * (e.g. the worker's native connection closes only after its worker shut down), and nothing is
 * left open.
 */
async function expectUnwound(start: (env: Record<string, string>, port: number, logger: Logger) => Promise<unknown>) {
  await using database = await createTestDatabase();
  const setup = createDb({ url: database.url, poolMax: 1 });
  await migrateToLatest(setup);
  await setup.destroy();
  const blocker = await takenPort();
  try {
    const logger = recordingLogger();
    const failure = await start(baseEnv(database), blocker.port, logger).then(
      () => new Error('the service started on a taken port'),
      (error: unknown) => error,
    );
    expect((failure as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect(logger.warnings.filter((w) => w.startsWith('could not release'))).toEqual([]);
    // The servers see the clients' closes asynchronously.
    await waitFor(natsConnections, { what: 'no NATS connection left open', until: (n) => n === 0 });
    await waitFor(() => databaseSessions(database), { what: 'no database session left', until: (n) => n === 0 });
  } finally {
    await new Promise((resolve) => blocker.server.close(resolve));
  }
}

describe('a start-up that fails releases what it opened', () => {
  test('api', async () => {
    await expectUnwound((env, port, logger) =>
      startApiService(
        loadApiConfig({ ...env, AC_API_PORT: String(port), AC_API_TOKEN: 'unwind-test-token-0123456789' }),
        {
          logger,
        },
      ),
    );
  });

  test('ingest: its consumer was consuming and its definition index listening', async () => {
    await expectUnwound((env, port, logger) =>
      startIngestService(loadIngestConfig({ ...env, AC_INGEST_PORT: String(port) }), { logger }),
    );
  });

  test('worker: its Temporal worker, relay and schedule sync were running', async () => {
    await expectUnwound((env, port, logger) =>
      startWorkerService(
        loadWorkerConfig({ ...env, AC_WORKER_PORT: String(port), AC_WORKER_SHUTDOWN_GRACE_MS: '1000' }),
        { logger },
      ),
    );
  }, 120_000);
});
