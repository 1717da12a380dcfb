import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningStack, startStack } from '@activity-core/stack';

/**
 * Runs a benchmark on a throw-away local stack (data in the system temp dir, where the
 * `postgres` user can reach it even when the clone is private), stops the stack whatever
 * happens, and exits: 1 when `body` throws or returns `false`, else 0.
 */
export async function runBench(body: (stack: RunningStack) => Promise<boolean | undefined>): Promise<never> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ac-bench-'));
  chmodSync(dataDir, 0o755);
  const stack = await startStack({ dataDir, database: 'bench' });
  let exitCode = 0;
  try {
    if ((await body(stack)) === false) exitCode = 1;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exitCode = 1;
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}
