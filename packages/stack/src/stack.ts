import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedProcess } from './managed-process.ts';
import { startNats } from './nats.ts';
import { freePort } from './ports.ts';
import { ensureDatabase, startPostgres } from './postgres.ts';
import { startTemporal } from './temporal.ts';

export interface StackPorts {
  readonly postgres: number;
  readonly nats: number;
  readonly natsMonitor: number;
  readonly temporal: number;
  readonly temporalUi: number;
}

export interface StackOptions {
  /** Root for all server data: `postgres/`, `nats/`, `temporal/` below it. */
  readonly dataDir: string;
  /** Fixed ports; any not given is a free port. */
  readonly ports?: Partial<StackPorts>;
  /** Serve the Temporal Web UI (off for tests). */
  readonly temporalUi?: boolean;
  /** Name of the application database to create. */
  readonly database?: string;
  /**
   * Use these instead of starting a server. Typically `DATABASE_URL`, `NATS_URL` and
   * `TEMPORAL_ADDRESS` from the environment.
   */
  readonly external?: {
    readonly databaseUrl?: string | undefined;
    readonly natsUrl?: string | undefined;
    readonly temporalAddress?: string | undefined;
  };
  readonly log?: (message: string) => void;
}

/** Where the stack's servers listen. Serializable: handed from vitest's global setup to tests. */
export interface StackInfo {
  /** The application database. */
  readonly databaseUrl: string;
  /** A database from which others can be created (the `postgres` maintenance database). */
  readonly adminDatabaseUrl: string | undefined;
  readonly natsUrl: string;
  readonly natsMonitorUrl: string | undefined;
  readonly temporalAddress: string;
  readonly temporalNamespace: string;
  readonly temporalUiUrl: string | undefined;
  /** Log files of the servers this stack started, by server name. */
  readonly logs: Readonly<Record<string, string>>;
}

export interface RunningStack extends StackInfo {
  /** Stops the servers this stack started, newest dependency last. Idempotent. */
  stop(): Promise<void>;
}

interface Stoppable {
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

const PID_FILE = 'stack.pids.json';

/**
 * Starts PostgreSQL, nats-server (JetStream) and the Temporal dev server on loopback, in
 * parallel, each waited for until it really answers. A server given in `external` is used
 * as it is. If any server fails to start, the others are stopped and the error says which
 * one failed, with the tail of its log.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const log = options.log ?? (() => undefined);
  mkdirSync(options.dataDir, { recursive: true });
  killStaleProcesses(options.dataDir, log);
  const ports: StackPorts = {
    postgres: options.ports?.postgres ?? (await freePort()),
    nats: options.ports?.nats ?? (await freePort()),
    natsMonitor: options.ports?.natsMonitor ?? (await freePort()),
    temporal: options.ports?.temporal ?? (await freePort()),
    temporalUi: options.ports?.temporalUi ?? (await freePort()),
  };
  const database = options.database ?? 'activity_core';
  const external = options.external ?? {};
  const started: Stoppable[] = [];
  const track = <T extends Stoppable>(server: T): T => {
    started.push(server);
    writePids(options.dataDir, started);
    return server;
  };
  const stopAll = async (): Promise<void> => {
    const servers = started.splice(0);
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(join(options.dataDir, PID_FILE), { force: true });
  };

  const t0 = Date.now();
  const settled = await Promise.allSettled([
    external.databaseUrl
      ? Promise.resolve(undefined)
      : startPostgres({ dir: join(options.dataDir, 'postgres'), port: ports.postgres }).then(async (pg) => {
          track(pg);
          await ensureDatabase(pg.adminUrl, database);
          log(`postgres ready on 127.0.0.1:${ports.postgres} (${Date.now() - t0} ms)`);
          return pg;
        }),
    external.natsUrl
      ? Promise.resolve(undefined)
      : startNats({ dir: join(options.dataDir, 'nats'), port: ports.nats, monitorPort: ports.natsMonitor }).then(
          (n) => {
            track(n);
            log(`nats-server ready on 127.0.0.1:${ports.nats} (${Date.now() - t0} ms)`);
            return n;
          },
        ),
    external.temporalAddress
      ? Promise.resolve(undefined)
      : startTemporal({
          dir: join(options.dataDir, 'temporal'),
          port: ports.temporal,
          ...(options.temporalUi ? { uiPort: ports.temporalUi } : {}),
        }).then((t) => {
          track(t);
          log(`temporal ready on 127.0.0.1:${ports.temporal} (${Date.now() - t0} ms)`);
          return t;
        }),
  ]);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length > 0) {
    await stopAll();
    const reasons = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason)));
    throw new AggregateError(
      failures.map((f) => f.reason),
      `the local stack did not start:\n${reasons.join('\n\n')}`,
    );
  }
  const [pgResult, natsResult, temporalResult] = settled as [
    PromiseFulfilledResult<Awaited<ReturnType<typeof startPostgres>> | undefined>,
    PromiseFulfilledResult<Awaited<ReturnType<typeof startNats>> | undefined>,
    PromiseFulfilledResult<Awaited<ReturnType<typeof startTemporal>> | undefined>,
  ];
  const pg = pgResult.value;
  const nats = natsResult.value;
  const temporal = temporalResult.value;
  const logs: Record<string, string> = {};
  for (const s of started) logs[s.process.name] = s.process.logFile;
  return {
    databaseUrl: pg ? pg.urlFor(database) : (external.databaseUrl as string),
    adminDatabaseUrl: pg?.adminUrl,
    natsUrl: nats ? nats.url : (external.natsUrl as string),
    natsMonitorUrl: nats?.monitorUrl,
    temporalAddress: temporal ? temporal.address : (external.temporalAddress as string),
    temporalNamespace: temporal?.namespace ?? 'default',
    temporalUiUrl: temporal?.uiUrl,
    logs,
    stop: stopAll,
  };
}

function writePids(dataDir: string, servers: readonly Stoppable[]): void {
  const pids = servers.flatMap((s) =>
    s.process.pid === undefined ? [] : [{ name: s.process.name, pid: s.process.pid }],
  );
  writeFileSync(join(dataDir, PID_FILE), JSON.stringify(pids));
}

/**
 * A stack whose owner was killed with SIGKILL leaves its servers running (they are in their
 * own process groups). The next start in the same data directory stops them first.
 */
function killStaleProcesses(dataDir: string, log: (message: string) => void): void {
  const file = join(dataDir, PID_FILE);
  if (!existsSync(file)) return;
  const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<{ name: string; pid: number }>;
  for (const { name, pid } of entries) {
    const cmdline = `/proc/${pid}/cmdline`;
    if (!existsSync(cmdline)) continue;
    const command = readFileSync(cmdline, 'utf8');
    const binary = name === 'nats-server' ? 'nats-server' : name;
    if (!command.includes(binary)) continue;
    log(`stopping ${name} (pid ${pid}) left over from an earlier run`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  rmSync(file, { force: true });
}
