import { join } from 'node:path';
import { type ActivityCoreClient, createActivityCoreClient } from '@activity-core/client';
import { createDb, type Db, migrateToLatest } from '@activity-core/db';
import { topology } from '@activity-core/messaging';
import {
  freePort,
  ManagedProcess,
  pollUntil,
  REPO_ROOT,
  type ServiceName,
  ServiceNames,
  stopProcesses,
} from '@activity-core/stack';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createTestDatabase, stackInfo, type TestDatabase, uniqueId } from './stack.ts';
import { PROCESS_START_MS, type WaitOptions, waitFor } from './wait.ts';

interface ServiceProcesses extends AsyncDisposable {
  /**
   * Starts these services (name → ops port: `/healthz`, `/readyz`, `/metrics`; the api's
   * `/trpc`) and resolves once each answers /readyz with 200. Fails with the last lines of a
   * service that exits or is not ready within {@link PROCESS_START_MS}, after stopping the ones
   * this call started.
   */
  start(ports: Readonly<Partial<Record<ServiceName, number>>>): Promise<void>;
  /** The last lines each service printed (or only `service`'s), for failure messages. */
  logs(service?: ServiceName): string;
  /** {@link waitFor} with the services' last lines in its timeout error. */
  waitFor<T>(
    check: () => T | Promise<T>,
    options: Omit<WaitOptions<Awaited<T>>, 'context' | 'until'>,
  ): Promise<Exclude<Awaited<T>, undefined | null | false>>;
  /** SIGTERM to each, SIGKILL to what is left after 15 s; resolves when all have exited. */
  stop(): Promise<void>;
}

/**
 * Services as separate processes of their `main.ts` with the environment `env`, the way
 * `npm start` runs them. Like `npm start`, each runs as a ManagedProcess: in its own process
 * group and session, with a lifeline guard that stops it if this test process dies. The session
 * matters on a loaded machine: with the kernel's autogroup scheduling one session is one
 * scheduling group, and children spawned plainly share the test runner's, where the other test
 * files run. Bundling the workflow code took 35-63 s there against 16-27 s in a session of its
 * own (two busy processes beside it, load average 12-15), which is why service starts in the
 * test runner's session missed their deadline under a full `npm test`.
 */
function serviceProcesses(
  env: NodeJS.ProcessEnv,
  options: {
    /** Every line each service prints, stdout and stderr (the tail keeps only the last ones). */
    readonly onLine?: (service: ServiceName, line: string) => void;
  } = {},
): ServiceProcesses {
  const all: ManagedProcess[] = [];
  const logs = (service?: ServiceName): string =>
    all
      .filter((p) => service === undefined || p.name === service)
      .map((p) => `--- ${p.name} (pid ${p.pid})\n${p.tail()}`)
      .join('\n');
  const stop = () => stopProcesses(all, { graceMs: 15_000 });
  return {
    async start(ports) {
      const entries = Object.entries(ports) as Array<[ServiceName, number]>;
      const started = entries.map(
        ([name, port]) =>
          new ManagedProcess({
            name,
            command: process.execPath,
            args: [join(REPO_ROOT, 'services', name, 'src', 'main.ts')],
            env: { ...env, [`AC_${name.toUpperCase()}_PORT`]: String(port) },
            cwd: REPO_ROOT,
            ...(options.onLine ? { onLine: (line: string) => options.onLine?.(name, line) } : {}),
          }),
      );
      all.push(...started);
      try {
        await Promise.all(
          entries.map(([, port], i) =>
            (started[i] as ManagedProcess).waitReady(
              (signal) =>
                pollUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`, { signal })).ok, signal, 100),
              PROCESS_START_MS,
            ),
          ),
        );
      } catch (error) {
        await stopProcesses(started, { graceMs: 15_000 });
        throw error;
      }
    },
    logs,
    waitFor: (check, options) => waitFor(check, { ...options, context: () => logs() }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export interface ServiceStackOptions {
  /** The stream prefix (AC_STREAM_PREFIX); the Schedule id prefix is made from it. */
  readonly prefix: string;
  /** The API's bootstrap token (AC_API_TOKEN), and the one {@link ServiceStack.client} uses. */
  readonly token?: string;
  /** More variables for the services, or ones that replace the defaults. */
  readonly env?: NodeJS.ProcessEnv;
  /** The test's own database pool (default 2). */
  readonly poolMax?: number;
  /** Every line each service prints (see {@link serviceProcesses}). */
  readonly onLine?: (service: ServiceName, line: string) => void;
}

export interface ServiceStack extends AsyncDisposable {
  /** A fresh, migrated database of the test's own, and the test's pool on it. */
  readonly database: TestDatabase;
  readonly db: Db;
  /** The test's own connection to the shared NATS. */
  readonly nc: NatsConnection;
  /**
   * What the services run with: the shared stack's addresses, this database, a task queue of
   * their own, the prefix, the token, a 100 ms outbox poll, and `options.env` over that.
   */
  readonly env: NodeJS.ProcessEnv;
  /** The ops port of each service, picked before any starts (so a URL can go into `env`). */
  readonly ports: Readonly<Record<ServiceName, number>>;
  /** The API's tRPC endpoint. */
  readonly apiUrl: string;
  /** Starts these services on their {@link ports}; resolves once each is ready (see {@link ServiceProcesses.start}). */
  start(...names: ServiceName[]): Promise<void>;
  /** A client of the API, with `token` (default: the bootstrap token). */
  client(token?: string): ActivityCoreClient;
  logs: ServiceProcesses['logs'];
  waitFor: ServiceProcesses['waitFor'];
  /** Stops the services, deletes the prefix's streams, closes the connections, drops the database. */
  stop(): Promise<void>;
}

/**
 * The three services as processes (see {@link serviceProcesses}) over the shared test stack,
 * with their own database, stream prefix, Schedule id prefix and task queue, so the end-to-end
 * files can run in parallel. Nothing is started until {@link ServiceStack.start}.
 *
 * @example
 * const stack = await startServiceStack({ prefix: uniqueId('E'), token: TOKEN });
 * await stack.start('worker', 'api');
 * const ac = stack.client();
 */
export async function startServiceStack(options: ServiceStackOptions): Promise<ServiceStack> {
  const info = stackInfo();
  const t = topology(options.prefix);
  const cleanups: Array<() => Promise<void>> = [];
  // Last in, first out; each runs even when one before it failed, and the first failure is thrown.
  const stop = async (): Promise<void> => {
    const failures: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  try {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const db = createDb({ url: database.url, poolMax: options.poolMax ?? 2 });
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const nc = await connect({ servers: info.natsUrl });
    cleanups.push(async () => {
      const jsm = await jetstreamManager(nc);
      for (const s of [t.events.stream, t.dlq.stream, t.tasks.stream, t.advisories.stream]) {
        await jsm.streams.delete(s).catch(() => undefined);
      }
      await nc.close();
    });
    const ports = {} as Record<ServiceName, number>;
    for (const name of ServiceNames) ports[name] = await freePort();
    const apiUrl = `http://127.0.0.1:${ports.api}/trpc`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: database.url,
      NATS_URL: info.natsUrl,
      TEMPORAL_ADDRESS: info.temporalAddress,
      TEMPORAL_NAMESPACE: info.temporalNamespace,
      TEMPORAL_TASK_QUEUE: uniqueId('tq-'),
      AC_STREAM_PREFIX: options.prefix,
      ...(options.token === undefined ? {} : { AC_API_TOKEN: options.token }),
      AC_SCHEDULE_ID_PREFIX: `${options.prefix.toLowerCase()}-def-`,
      AC_OUTBOX_POLL_MS: '100',
      ...options.env,
    };
    const services = serviceProcesses(env, options.onLine ? { onLine: options.onLine } : {});
    cleanups.push(() => services.stop());
    return {
      database,
      db,
      nc,
      env,
      ports,
      apiUrl,
      start: (...names) => services.start(Object.fromEntries(names.map((name) => [name, ports[name]]))),
      client: (token = options.token) => {
        if (token === undefined) throw new Error('startServiceStack: no token given for the API client');
        return createActivityCoreClient({ url: apiUrl, token });
      },
      logs: services.logs,
      waitFor: services.waitFor,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
