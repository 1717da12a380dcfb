#!/usr/bin/env node
// The local system in one command (`npm start` runs `cli.ts start` after set-up):
// PostgreSQL, nats-server and the Temporal dev server with data under .data/, migrations,
// then the three services, each waited for until healthy. Ctrl-C stops the services first,
// then the servers, and leaves no process behind.
//
//   cli.ts start   the whole system
//   cli.ts up      only the servers; prints the environment to point services at them
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pollUntil } from './managed-process.ts';
import { freePort } from './ports.ts';
import { startSelectedStack } from './provider.ts';
import type { RunningStack } from './stack.ts';
import { REPO_ROOT, traversableByOthers } from './tools.ts';

const env = process.env;
const say = (message: string): void => {
  process.stdout.write(`[activity-core] ${message}\n`);
};

function portFromEnv(name: string, fallback: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0 picks a free one), got "${raw}"`);
  }
  return port === 0 ? undefined : port;
}

interface ServiceSpec {
  readonly name: 'api' | 'ingest' | 'worker';
  readonly portVariable: string;
  readonly port: number;
}

/** The bootstrap admin token: from AC_API_TOKEN, or made once and kept in the data dir. */
function apiToken(dataDir: string): string {
  if (env.AC_API_TOKEN) return env.AC_API_TOKEN;
  const file = join(dataDir, 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = `ac_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

function pipeWithPrefix(child: ChildProcess, prefix: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix} ${line}\n`));
  }
}

function runNode(script: string, childEnv: NodeJS.ProcessEnv, prefix: string): ChildProcess {
  const child = spawn(process.execPath, [script], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT });
  pipeWithPrefix(child, prefix);
  return child;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function migrate(childEnv: NodeJS.ProcessEnv): Promise<void> {
  const script = join(REPO_ROOT, 'packages', 'db', 'src', 'migrate-cli.ts');
  if (!existsSync(script)) {
    say('no migrations package yet; skipping migrations');
    return;
  }
  const child = spawn(process.execPath, [script, 'up'], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO_ROOT,
  });
  pipeWithPrefix(child, '[migrate]');
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`migrations failed (exit code ${code}); see the [migrate] lines above`);
}

async function waitHealthy(service: ServiceSpec, child: ChildProcess, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const exited = exitOf(child).then((code) => {
    throw new Error(`${service.name} exited during start-up (code ${code}); see the [${service.name}] lines above`);
  });
  try {
    await Promise.race([
      pollUntil(async () => (await fetch(`http://127.0.0.1:${service.port}/readyz`)).ok, controller.signal, 200),
      exited,
    ]);
    if (controller.signal.aborted) throw new Error(`${service.name} was not ready after ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
    exited.catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'start';
  if (command !== 'start' && command !== 'up') {
    process.stderr.write('usage: cli.ts start | up\n');
    process.exit(2);
  }
  let dataDir = resolve(env.AC_DATA_DIR ?? join(REPO_ROOT, '.data'));
  // As root, PostgreSQL runs as `postgres`, which must be able to enter the data directory. A
  // checkout under a private home cannot host it; /var/tmp survives reboots and lets it in.
  if (process.getuid?.() === 0 && !env.AC_DATA_DIR && !traversableByOthers(dataDir)) {
    const key = createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12);
    dataDir = join('/var/tmp', `activity-core-data-${key}`);
    say(`${join(REPO_ROOT, '.data')} is not reachable by the postgres user; keeping data in ${dataDir} instead`);
  }
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);

  const t0 = Date.now();
  say(`starting the local stack (data in ${dataDir})`);
  const stack: RunningStack = await startSelectedStack({
    dataDir,
    temporalUi: true,
    ports: {
      postgres: portFromEnv('AC_POSTGRES_PORT', 5432),
      nats: portFromEnv('AC_NATS_PORT', 4222),
      natsMonitor: portFromEnv('AC_NATS_MONITOR_PORT', 8222),
      temporal: portFromEnv('AC_TEMPORAL_PORT', 7233),
      temporalUi: portFromEnv('AC_TEMPORAL_UI_PORT', 8233),
    },
    external: { databaseUrl: env.DATABASE_URL, natsUrl: env.NATS_URL, temporalAddress: env.TEMPORAL_ADDRESS },
    log: say,
  });

  const children: ChildProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      say(`stopping (${reason})`);
      for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.all(children.map((c) => exitOf(c)));
      await stack.stop();
      say('stopped');
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void stopAll(signal).then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const baseEnv: NodeJS.ProcessEnv = {
      ...env,
      DATABASE_URL: stack.databaseUrl,
      NATS_URL: stack.natsUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.temporalNamespace,
    };
    say('running migrations');
    await migrate(baseEnv);

    if (command === 'up') {
      say(`stack ready in ${Date.now() - t0} ms. Environment for the services:`);
      for (const key of ['DATABASE_URL', 'NATS_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']) {
        process.stdout.write(`  ${key}=${baseEnv[key] ?? ''}\n`);
      }
      return;
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
    const token = apiToken(dataDir);
    for (const service of services) {
      const child = runNode(
        join(REPO_ROOT, 'services', service.name, 'src', 'main.ts'),
        { ...baseEnv, [service.portVariable]: String(service.port), AC_API_TOKEN: token },
        `[${service.name}]`,
      );
      children.push(child);
      void exitOf(child).then((code) => {
        if (!stopping) void stopAll(`${service.name} exited with code ${code}`).then(() => process.exit(1));
      });
    }
    await Promise.all(services.map((s, i) => waitHealthy(s, children[i] as ChildProcess, 60_000)));
    const api = services.find((s) => s.name === 'api') as ServiceSpec;
    say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const lines = [
      ['API (tRPC)', `http://127.0.0.1:${api.port}/trpc`],
      ['API health', `http://127.0.0.1:${api.port}/readyz`],
      ['API token', env.AC_API_TOKEN ? '(from AC_API_TOKEN)' : `${token}  (kept in ${join(dataDir, 'api-token')})`],
      ['Temporal UI', stack.temporalUiUrl ?? '(external Temporal)'],
      ['Temporal', stack.temporalAddress],
      ['NATS', stack.natsUrl],
      ['NATS monitoring', stack.natsMonitorUrl ?? '(external NATS)'],
      ['PostgreSQL', stack.databaseUrl.replace(/\/\/[^@]*@/, '//')],
    ];
    for (const [name, value] of lines) process.stdout.write(`  ${(name ?? '').padEnd(16)} ${value}\n`);
    say('press Ctrl-C to stop');
  } catch (error) {
    await stopAll('start-up failed');
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[activity-core] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
