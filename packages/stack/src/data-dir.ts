// Where `npm start` keeps its data and what it tells other tools while it runs: shared by the
// start command and the operator CLI (which finds the API and its token here inside a checkout).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Endpoints } from './endpoints.ts';

/** True when every ancestor of `path` lets other users through (the search bit). */
export function traversableByOthers(path: string): boolean {
  let current = resolve(path);
  while (dirname(current) !== current) {
    current = dirname(current);
    if ((statSync(current).mode & 0o001) === 0) return false;
  }
  return true;
}

/**
 * Where `npm start` keeps the local servers' data, the API token (`api-token`) and
 * `running.json`: `AC_DATA_DIR`, else `<repo>/.data`. As root, PostgreSQL runs as `postgres`,
 * which must be able to enter the directory: a checkout under a private home cannot host it, so
 * the data goes to `/var/tmp/activity-core-data-<hash of the repo path>` (it survives reboots).
 */
export function localDataDir(
  repoRoot: string,
  env: Record<string, string | undefined> = process.env,
): { dir: string; moved: boolean } {
  if (env.AC_DATA_DIR) return { dir: resolve(env.AC_DATA_DIR), moved: false };
  const inRepo = join(repoRoot, '.data');
  if (process.getuid?.() === 0 && !traversableByOthers(inRepo)) {
    const key = createHash('sha256').update(repoRoot).digest('hex').slice(0, 12);
    return { dir: join('/var/tmp', `activity-core-data-${key}`), moved: true };
  }
  return { dir: inRepo, moved: false };
}

/**
 * `<data dir>/running.json`: who runs the system from this data directory and, once it is
 * ready, where everything listens. `--print-env` and the operator CLI read it; a second start
 * is refused by it. It holds no secret (the token stays in its own file).
 */
export interface RunningFile {
  readonly pid: number;
  readonly endpoints?: Endpoints;
}

export const runningFile = (dataDir: string): string => join(dataDir, 'running.json');

/** The start command running from `dataDir`, if any (a live pid whose command is the stack CLI). */
export function runningOwner(dataDir: string): RunningFile | undefined {
  const file = runningFile(dataDir);
  if (!existsSync(file)) return undefined;
  let running: RunningFile;
  try {
    running = JSON.parse(readFileSync(file, 'utf8')) as RunningFile;
  } catch {
    return undefined;
  }
  if (running.pid === process.pid) return undefined;
  try {
    if (!readFileSync(`/proc/${running.pid}/cmdline`, 'utf8').includes('cli.ts')) return undefined;
  } catch {
    return undefined;
  }
  return running;
}
