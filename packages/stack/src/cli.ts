#!/usr/bin/env node
// The local system in one command (`npm start` runs `cli.ts start` after set-up):
// PostgreSQL, nats-server and the Temporal dev server with data under .data/, migrations,
// then the three services, each waited for until healthy. Ctrl-C stops the services first,
// then the servers, and leaves no process behind; so does the death of this process, through
// each child's lifeline guard (see managed-process.ts).
//
//   cli.ts start               the whole system
//   cli.ts start --print-env   `export …` lines for the system running from the same data
//                              directory (starts nothing)
//   cli.ts up                  only the servers; prints the environment to point services at them
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localDataDir, type RunningFile, runningFile, runningOwner } from './data-dir.ts';
import { type Endpoints, formatExports, formatSummary, type ServiceName } from './endpoints.ts';
import { ManagedProcess, pollUntil, stopProcesses } from './managed-process.ts';
import { freePort } from './ports.ts';
import type { RunningStack } from './stack.ts';
import { REPO_ROOT } from './tools.ts';

const env = process.env;
const say = (message: string): void => {
  process.stdout.write(`[activity-core] ${message}\n`);
};

/** `AC_NATS_CLUSTER`: how many nats-servers `npm start` runs as one JetStream cluster. */
function natsClusterFromEnv(): number {
  const raw = env.AC_NATS_CLUSTER;
  if (raw === undefined || raw === '') return 1;
  if (!['1', '3', '5'].includes(raw)) throw new Error(`AC_NATS_CLUSTER must be 1, 3 or 5, got "${raw}"`);
  return Number(raw);
}

function portFromEnv(name: string, fallback: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0 picks a free one), got "${raw}"`);
  }
  return port === 0 ? undefined : port;
}

/** `AC_STOP_GRACE_SECONDS`: how long each stop stage (services, then servers) may take. */
export const DEFAULT_STOP_GRACE_SECONDS = 15;
function stopGraceMs(): number {
  const raw = env.AC_STOP_GRACE_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_STOP_GRACE_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`AC_STOP_GRACE_SECONDS must be a positive number of seconds, got "${raw}"`);
  }
  return seconds * 1000;
}

/**
 * How long a service may take to answer /readyz. The worker bundles its workflow code at start,
 * which took 35 s on a 2-core machine at load average 20; 60 s was not enough there.
 */
const SERVICE_READY_TIMEOUT_MS = 180_000;

interface ServiceSpec {
  readonly name: ServiceName;
  readonly portVariable: string;
  readonly port: number;
}

/**
 * Memory settings of the services, set at launch because neither can be changed afterwards
 * (docs/production.md, "Memory"): Node 24 lets V8's young generation grow to 128 MB on the main
 * thread and 64 MB on the worker's workflow thread, resident memory that only holds short-lived
 * garbage; glibc gives each thread its own malloc arena, which keeps what it freed. An
 * MALLOC_ARENA_MAX in the environment wins.
 */
const NODE_FLAGS: Partial<Record<ServiceName, readonly string[]>> = {
  worker: ['--max-semi-space-size=16'],
  ingest: ['--max-semi-space-size=8'],
};
const MALLOC_ARENA_MAX = '2';

/** The bootstrap admin token: from AC_API_TOKEN, or made once and kept in the data dir. */
function apiToken(tokenFile: string): string {
  if (env.AC_API_TOKEN) return env.AC_API_TOKEN;
  if (existsSync(tokenFile)) return readFileSync(tokenFile, 'utf8').trim();
  const token = `ac_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return token;
}

function printEnv(dataDir: string): number {
  const running = runningOwner(dataDir);
  if (!running) {
    process.stderr.write(
      `[activity-core] nothing is running from ${dataDir}; start it with \`npm start\` (--print-env starts nothing)\n`,
    );
    return 1;
  }
  if (!running.endpoints) {
    process.stderr.write(
      `[activity-core] the system in ${dataDir} (pid ${running.pid}) is still starting; try again once it prints "ready"\n`,
    );
    return 1;
  }
  const tokenFile = running.endpoints.tokenFile;
  const token = tokenFile && existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
  process.stdout.write(formatExports(running.endpoints, token));
  return 0;
}

async function waitHealthy(service: ServiceSpec, child: ManagedProcess, timeoutMs: number): Promise<void> {
  try {
    await child.waitReady(
      (signal) =>
        pollUntil(async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`, { signal })).ok, signal, 200),
      timeoutMs,
    );
  } catch {
    throw new Error(
      child.running
        ? `${service.name} was not ready after ${timeoutMs} ms; see the [${service.name}] lines above`
        : `${service.name} exited during start-up; see the [${service.name}] lines above`,
    );
  }
}

function runNode(name: string, args: readonly string[], childEnv: NodeJS.ProcessEnv, graceMs: number): ManagedProcess {
  const prefix = `[${name}]`;
  return new ManagedProcess({
    name,
    command: process.execPath,
    args,
    env: childEnv,
    cwd: REPO_ROOT,
    onLine: (line) => process.stdout.write(`${prefix} ${line}\n`),
    orphanGraceMs: graceMs,
  });
}

async function migrate(childEnv: NodeJS.ProcessEnv, graceMs: number, children: ManagedProcess[]): Promise<void> {
  const script = join(REPO_ROOT, 'packages', 'db', 'src', 'migrate-cli.ts');
  const child = runNode('migrate', [script, 'up'], childEnv, graceMs);
  children.push(child);
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`migrations failed (exit code ${code}); see the [migrate] lines above`);
}

/**
 * Ends this process when the one that started it is gone (npm or set-up killed with SIGKILL):
 * the start command is then nobody's, and stops like on Ctrl-C. Only when set-up asked for it
 * (`AC_PARENT_PID`), so `node cli.ts start &` under nohup keeps running after its shell.
 */
function stopWithParent(stop: (reason: string) => void): void {
  const parent = Number(env.AC_PARENT_PID);
  if (!Number.isInteger(parent) || parent !== process.ppid) return;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop(`the process that started it (pid ${parent}) is gone`);
  }, 500);
  timer.unref();
}

async function main(): Promise<number | undefined> {
  const command = process.argv[2] ?? 'start';
  const flags = process.argv.slice(3);
  const unknown = flags.filter((f) => f !== '--print-env');
  if ((command !== 'start' && command !== 'up') || unknown.length > 0) {
    process.stderr.write('usage: cli.ts start [--print-env] | up\n');
    return 2;
  }
  const { dir: dataDir, moved } = localDataDir(REPO_ROOT, env);
  if (flags.includes('--print-env')) return printEnv(dataDir);

  const other = runningOwner(dataDir);
  if (other) {
    throw new Error(
      `activity-core is already running from ${dataDir} (pid ${other.pid}). Stop it first, or point other tools at it with \`npm start --silent -- --print-env\`.`,
    );
  }
  if (moved) {
    say(`${join(REPO_ROOT, '.data')} is not reachable by the postgres user; keeping data in ${dataDir} instead`);
  }
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);
  writeFileSync(runningFile(dataDir), JSON.stringify({ pid: process.pid } satisfies RunningFile));
  const graceMs = stopGraceMs();

  const children: ManagedProcess[] = [];
  let stackStarting: Promise<RunningStack> | undefined;
  let stopping: Promise<void> | undefined;
  const hurry = new AbortController();
  const stopAll = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      say(`stopping (${reason}); each stage gets ${graceMs / 1000} s before what is left is killed`);
      const running = children.filter((c) => c.running);
      if (running.length > 0) {
        say(`stopping ${running.map((c) => c.name).join(', ')}`);
        await stopProcesses(running, { graceMs, log: say, hurry: hurry.signal });
      }
      // A stop during start-up waits for the servers to be up (or to have failed) first.
      const stack = await stackStarting?.catch(() => undefined);
      if (stack) {
        say('stopping the servers');
        await stack.stop({ graceMs, log: say, hurry: hurry.signal });
      }
      rmSync(runningFile(dataDir), { force: true });
      say('stopped');
    })();
    return stopping;
  };
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping === undefined) {
      firstSignalAt = Date.now();
      void stopAll(signal).then(() => process.exit(0));
      return;
    }
    // One Ctrl-C can arrive twice (from the terminal and forwarded by npm/set-up): only a
    // later one means "stop waiting".
    if (signal === 'SIGINT' && Date.now() - firstSignalAt > 1000 && !hurry.signal.aborted) {
      say('second Ctrl-C');
      hurry.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stopWithParent((reason) => void stopAll(reason).then(() => process.exit(1)));

  const t0 = Date.now();
  try {
    say(`starting the local stack (data in ${dataDir})`);
    const natsCluster = natsClusterFromEnv();
    // Imported here: `--print-env` must not pay for loading the server drivers.
    const { startSelectedStack } = await import('./provider.ts');
    // Temporal is the user's when the TEMPORAL_* variables or a Temporal profile file name an
    // address (as for every Temporal SDK and CLI); the services then read that connection
    // (namespace, TLS, API key) themselves.
    const { loadTemporalSettings } = await import('@activity-core/runtime');
    const temporal = loadTemporalSettings(env);
    stackStarting = startSelectedStack({
      dataDir,
      temporalUi: true,
      ports: {
        postgres: portFromEnv('AC_POSTGRES_PORT', 5432),
        nats: portFromEnv('AC_NATS_PORT', 4222),
        natsMonitor: portFromEnv('AC_NATS_MONITOR_PORT', 8222),
        temporal: portFromEnv('AC_TEMPORAL_PORT', 7233),
        temporalUi: portFromEnv('AC_TEMPORAL_UI_PORT', 8233),
      },
      external: {
        databaseUrl: env.DATABASE_URL,
        natsUrl: env.NATS_URL,
        temporalAddress: temporal.configured ? temporal.address : undefined,
      },
      natsCluster,
      log: say,
    });
    const stack = await stackStarting;
    if (stopping !== undefined) return undefined;
    const baseEnv: NodeJS.ProcessEnv = {
      ...env,
      DATABASE_URL: stack.databaseUrl,
      NATS_URL: stack.natsUrl,
      ...(temporal.configured
        ? {}
        : { TEMPORAL_ADDRESS: stack.temporalAddress, TEMPORAL_NAMESPACE: stack.temporalNamespace }),
      // A local cluster is there to replicate: every stream on all nodes unless told otherwise.
      ...(natsCluster > 1 && !env.NATS_URL && !env.AC_STREAM_REPLICAS
        ? { AC_STREAM_REPLICAS: String(natsCluster) }
        : {}),
    };
    delete baseEnv.AC_PARENT_PID;
    say('running migrations');
    const tMigrate = Date.now();
    await migrate(baseEnv, graceMs, children);
    say(`migrations done (${Date.now() - tMigrate} ms)`);

    if (command === 'up') {
      say(`stack ready in ${Date.now() - t0} ms. Environment for the services:`);
      for (const key of ['DATABASE_URL', 'NATS_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']) {
        process.stdout.write(`  ${key}=${baseEnv[key] ?? (key === 'TEMPORAL_ADDRESS' ? temporal.address : '')}\n`);
      }
      say('press Ctrl-C to stop');
      return undefined;
    }

    const services: ServiceSpec[] = [
      {
        name: 'worker',
        portVariable: 'AC_WORKER_PORT',
        port: portFromEnv('AC_WORKER_PORT', 3002) ?? (await freePort()),
      },
      {
        name: 'ingest',
        portVariable: 'AC_INGEST_PORT',
        port: portFromEnv('AC_INGEST_PORT', 3001) ?? (await freePort()),
      },
      { name: 'api', portVariable: 'AC_API_PORT', port: portFromEnv('AC_API_PORT', 3000) ?? (await freePort()) },
    ];
    const tokenFile = join(dataDir, 'api-token');
    const token = apiToken(tokenFile);
    const tServices = Date.now();
    const started = services.map((service) => {
      const child = runNode(
        service.name,
        [...(NODE_FLAGS[service.name] ?? []), join(REPO_ROOT, 'services', service.name, 'src', 'main.ts')],
        {
          MALLOC_ARENA_MAX,
          ...baseEnv,
          [service.portVariable]: String(service.port),
          AC_API_TOKEN: token,
        },
        graceMs,
      );
      children.push(child);
      void child.exited.then(({ code, signal }) => {
        if (stopping === undefined) {
          void stopAll(`${service.name} exited (code ${code}, signal ${signal})`).then(() => process.exit(1));
        }
      });
      return { service, child };
    });
    await Promise.all(
      started.map(async ({ service, child }) => {
        await waitHealthy(service, child, SERVICE_READY_TIMEOUT_MS);
        say(`${service.name} ready on 127.0.0.1:${service.port} (${Date.now() - tServices} ms)`);
      }),
    );
    const port = (name: ServiceName): number => (services.find((s) => s.name === name) as ServiceSpec).port;
    const endpoints: Endpoints = {
      apiUrl: `http://127.0.0.1:${port('api')}/trpc`,
      tokenFile: env.AC_API_TOKEN ? undefined : tokenFile,
      services: {
        api: `http://127.0.0.1:${port('api')}`,
        ingest: `http://127.0.0.1:${port('ingest')}`,
        worker: `http://127.0.0.1:${port('worker')}`,
      },
      temporalAddress: stack.temporalAddress,
      temporalNamespace: temporal.configured ? temporal.namespace : stack.temporalNamespace,
      temporalTaskQueue: env.TEMPORAL_TASK_QUEUE || 'activity-core',
      temporalUiUrl: stack.temporalUiUrl,
      natsUrl: stack.natsUrl,
      natsMonitorUrl: stack.natsMonitorUrl,
      databaseUrl: stack.databaseUrl,
      externalDatabase: Boolean(env.DATABASE_URL),
    };
    writeFileSync(runningFile(dataDir), JSON.stringify({ pid: process.pid, endpoints } satisfies RunningFile));
    say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    process.stdout.write(formatSummary(endpoints));
    say('the same as `export` lines, for other tools: eval "$(npm start --silent -- --print-env)"');
    say('press Ctrl-C to stop');
    return undefined;
  } catch (error) {
    if (stopping === undefined) await stopAll('start-up failed');
    throw error;
  }
}

main().then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`[activity-core] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
