import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { localDataDir, runningOwner } from '@activity-core/stack/data-dir';
import { CliError, ExitCode } from './errors.ts';

export interface Connection {
  readonly url: string;
  readonly token: string;
  /** Where the token came from, for error messages (never the token itself). */
  readonly tokenSource: string;
}

export interface ConnectionFlags {
  readonly url?: string | undefined;
  readonly token?: string | undefined;
}

/** The checkout the CLI runs in, if any: the nearest directory up from `cwd` with the workspace file. */
function findCheckout(cwd: string): string | undefined {
  let dir = cwd;
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml')) && existsSync(join(dir, 'packages', 'stack'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readTrimmed(file: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * Where the API is and which token to send: `--url` / `--token`, else `AC_API_URL` /
 * `AC_API_TOKEN`, else (inside a checkout while `npm start` runs) the API address and token
 * file it records in its data directory (`running.json`, `api-token`), else
 * `http://127.0.0.1:3000/trpc` and no token (an error).
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
): Connection {
  const checkout = findCheckout(cwd);
  const dataDir = checkout ? localDataDir(checkout, env).dir : undefined;
  const running = dataDir ? runningOwner(dataDir)?.endpoints : undefined;
  const url = flags.url ?? env.AC_API_URL ?? running?.apiUrl ?? 'http://127.0.0.1:3000/trpc';
  if (flags.token) return { url, token: flags.token, tokenSource: '--token' };
  if (env.AC_API_TOKEN) return { url, token: env.AC_API_TOKEN, tokenSource: 'AC_API_TOKEN' };
  const file = running?.tokenFile ?? (dataDir ? join(dataDir, 'api-token') : undefined);
  const fromFile = file ? readTrimmed(file) : undefined;
  if (file && fromFile) return { url, token: fromFile, tokenSource: file };
  throw new CliError(
    'no API token: set AC_API_TOKEN or pass --token (inside a checkout, `npm start` keeps one in its data directory)',
    ExitCode.auth,
  );
}
