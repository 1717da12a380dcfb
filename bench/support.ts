import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
