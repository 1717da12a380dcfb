import { join } from 'node:path';
import { ManagedProcess, pollUntil, REPO_ROOT, type ServiceName, stopProcesses } from '@activity-core/stack';
import { PROCESS_START_MS, type WaitOptions, waitFor } from './wait.ts';

export interface ServiceProcesses extends AsyncDisposable {
  /**
   * Starts these services (name → ops port: `/healthz`, `/readyz`, `/metrics`; the api's
   * `/trpc`) and resolves once each answers /readyz with 200. Fails with the last lines of a
   * service that exits or is not ready within {@link PROCESS_START_MS}, after stopping the ones
   * this call started.
   */
  start(ports: Readonly<Partial<Record<ServiceName, number>>>): Promise<void>;
  /** The last lines each service printed, for failure messages. */
  logs(): string;
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
export function serviceProcesses(
  env: NodeJS.ProcessEnv,
  options: {
    /** Every line each service prints, stdout and stderr (the tail keeps only the last ones). */
    readonly onLine?: (service: ServiceName, line: string) => void;
  } = {},
): ServiceProcesses {
  const all: ManagedProcess[] = [];
  const logs = (): string => all.map((p) => `--- ${p.name} (pid ${p.pid})\n${p.tail()}`).join('\n');
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
    waitFor: (check, options) => waitFor(check, { ...options, context: logs }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
