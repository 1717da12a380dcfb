import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from './errors.ts';
import { type ManagedProcess, type StopOptions, stopProcesses } from './managed-process.ts';
import { startNats, startNatsCluster } from './nats.ts';
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
  /**
   * nats-servers to start as one JetStream cluster (`AC_NATS_CLUSTER`): 1 (default) is a single
   * server; 3 or 5 start a cluster on loopback, the first node on `ports.nats`.
   */
  readonly natsCluster?: number;
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
  /**
   * Stops the servers this stack started, together: each gets its stop signal, and whatever
   * still runs after the grace period (default 15 s) is killed. Idempotent.
   */
  stop(options?: StopOptions): Promise<void>;
}

interface Stoppable {
  readonly process: ManagedProcess;
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
  await killStaleProcesses(options.dataDir, log);
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
  let stopping: Promise<void> | undefined;
  const stopAll = (stopOptions?: StopOptions): Promise<void> => {
    stopping ??= (async () => {
      await stopProcesses(
        started.map((s) => s.process),
        stopOptions,
      );
      rmSync(join(options.dataDir, PID_FILE), { force: true });
    })();
    return stopping;
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
      : (options.natsCluster ?? 1) > 1
        ? startNatsCluster({
            dir: join(options.dataDir, 'nats-cluster'),
            size: options.natsCluster ?? 1,
            ports: [ports.nats],
          }).then((cluster) => {
            for (const node of cluster.nodes) track(node);
            log(`nats cluster of ${cluster.nodes.length} ready on ${cluster.url} (${Date.now() - t0} ms)`);
            return { url: cluster.url, monitorUrl: cluster.monitorUrl };
          })
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
    PromiseFulfilledResult<{ readonly url: string; readonly monitorUrl: string } | undefined>,
    PromiseFulfilledResult<Awaited<ReturnType<typeof startTemporal>> | undefined>,
  ];
  const pg = pgResult.value;
  const nats = natsResult.value;
  const temporal = temporalResult.value;
  const logs: Record<string, string> = {};
  for (const s of started) if (s.process.logFile) logs[s.process.name] = s.process.logFile;
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

interface PidFile {
  /** The process that started the servers (and whose death ends them, see ManagedProcess). */
  readonly owner: number;
  readonly servers: ReadonlyArray<{ name: string; pid: number }>;
}

function writePids(dataDir: string, servers: readonly Stoppable[]): void {
  const pids: PidFile = {
    owner: process.pid,
    servers: servers.flatMap((s) =>
      s.process.pid === undefined ? [] : [{ name: s.process.name, pid: s.process.pid }],
    ),
  };
  writeFileSync(join(dataDir, PID_FILE), JSON.stringify(pids));
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/**
 * Another live stack on the same data directory is refused (its servers hold the ports and the
 * files). Servers whose owner died without stopping them, if their lifeline guards did not
 * get to end them (the guards were killed too), are killed here, and waited for, before
 * anything else touches their files.
 */
async function killStaleProcesses(dataDir: string, log: (message: string) => void): Promise<void> {
  const file = join(dataDir, PID_FILE);
  if (!existsSync(file)) return;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as PidFile | PidFile['servers'];
  // Files from before the owner was recorded hold the server list alone.
  const { owner, servers }: { owner?: number; servers: PidFile['servers'] } = Array.isArray(parsed)
    ? { servers: parsed }
    : (parsed as PidFile);
  if (owner !== undefined && owner !== process.pid) {
    const ownerCommand = commandLine(owner);
    const live = servers.filter(({ name, pid }) => commandLine(pid)?.includes(name));
    if (ownerCommand !== undefined && live.length > 0) {
      throw new StackError(
        'data_dir_in_use',
        `the data directory ${dataDir} is in use by a running stack (pid ${owner}: ${ownerCommand.trim()}); stop that one first, or use another AC_DATA_DIR`,
      );
    }
  }
  const killed: number[] = [];
  for (const { name, pid } of servers) {
    if (!commandLine(pid)?.includes(name)) continue;
    log(`stopping ${name} (pid ${pid}) left over from an earlier run`);
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
        break;
      } catch {
        // not a group leader any more, or gone meanwhile
      }
    }
    killed.push(pid);
  }
  const deadline = Date.now() + 10_000;
  while (killed.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  rmSync(file, { force: true });
}
