import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IngestConfig, loadConfig } from '@activity-core/ingest-service/config';
import { type RunningStack, type StackOptions, startStack } from '@activity-core/stack';

const cleanups: Array<() => Promise<void>> = [];

/** Registers what an interrupted benchmark must stop before the stack (processes it spawned). */
export function onInterrupt(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/**
 * Runs a benchmark on a throw-away local stack (data in the system temp dir, where the
 * `postgres` user can reach it even when the clone is private), stops the stack whatever
 * happens, and exits: 1 when `body` throws or returns `false`, else 0. `options` go to
 * `startStack` (e.g. `external.natsUrl` for a NATS cluster the bench starts itself).
 */
export async function runBench(
  body: (stack: RunningStack, where: { readonly dataDir: string }) => Promise<boolean | undefined>,
  options: Omit<StackOptions, 'dataDir' | 'database'> = {},
): Promise<never> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ac-bench-'));
  chmodSync(dataDir, 0o755);
  const stack = await startStack({ ...options, dataDir, database: 'bench' });
  // Interrupted (Ctrl-C, a timeout): stop what the benchmark started, then the stack.
  const interrupted = async (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: stopping the benchmark\n`);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let exitCode = 0;
  try {
    if ((await body(stack, { dataDir })) === false) exitCode = 1;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exitCode = 1;
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

/** A service process of a benchmark, spawned with the bench's Node. */
export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Spawns `script` with the bench's Node and `env` (plus PATH), resolves once its stderr matches
 * `ready` (rejects with the output so far if it exits first), then echoes the stderr lines that
 * match `echo` (warnings and errors by default) under the process's name.
 */
export async function spawnBenchProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  options: { readonly nodeFlags?: readonly string[]; readonly echo?: RegExp } = {},
): Promise<BenchProcess> {
  const echo = options.echo ?? /"level":"(error|warn)"/;
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-20_000);
      if (ready.test(tail)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready:\n${tail}`)));
  });
  child.stderr?.removeAllListeners('data');
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (echo.test(text)) process.stderr.write(`[${name}] ${text}`);
  });
  return {
    name,
    child,
    pid: child.pid as number,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The ingest service's config for an in-process ingest on the bench's stack: its servers, the
 * `BENCH` stream prefix, a port of its own choosing, errors only; `overrides` (the task queue at
 * least) on top.
 */
export function benchIngestConfig(
  stack: RunningStack,
  overrides: { readonly TEMPORAL_TASK_QUEUE: string } & Readonly<Record<string, string>>,
): IngestConfig {
  return loadConfig({
    DATABASE_URL: stack.databaseUrl,
    NATS_URL: stack.natsUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.temporalNamespace,
    AC_STREAM_PREFIX: 'BENCH',
    AC_INGEST_PORT: '0',
    LOG_LEVEL: 'error',
    ...overrides,
  });
}
