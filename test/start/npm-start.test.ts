import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, type StartCommand, spawnStartCommand } from '@activity-core/stack';
import pg from 'pg';
import { afterAll, afterEach, expect, test } from 'vitest';

// `npm start` minus npm (and mostly minus set-up, which the test run has already done), on real
// servers: what it prints, what --print-env prints, how it stops, and that nothing it started
// outlives it, not even when it is killed with SIGKILL.

const dataDir = mkdtempSync(join(tmpdir(), 'ac-start-'));
chmodSync(dataDir, 0o755);
const cliPath = join(REPO_ROOT, 'packages', 'stack', 'src', 'cli.ts');
let current: StartCommand | undefined;
// Each test starts the whole system once or twice; on a loaded 2-core machine one start can
// take a minute. A harness deadline, not a claim about speed (bench/start-times.ts measures).
const START_TEST_TIMEOUT_MS = 420_000;

// A failed assertion must not leave the system running: stop it the way Ctrl-C would.
afterEach(async () => {
  const command = current;
  current = undefined;
  if (!command || command.child.exitCode !== null || command.child.signalCode !== null) return;
  command.child.kill('SIGINT');
  const timer = setTimeout(() => command.child.kill('SIGKILL'), 60_000);
  await command.exited;
  clearTimeout(timer);
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function start(options: Parameters<typeof spawnStartCommand>[0] = { dataDir }): StartCommand {
  current = spawnStartCommand(options);
  return current;
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** The start command's process tree: services, servers (postgres with its backends), guards. */
function treeOf(rootPid: number): Proc[] {
  const all = processes();
  const tree: Proc[] = [];
  let frontier = [rootPid];
  while (frontier.length > 0) {
    const children = all.filter((p) => frontier.includes(p.ppid));
    tree.push(...children);
    frontier = children.map((p) => p.pid);
  }
  return tree;
}

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits (up to a deadline, never a fixed sleep) until none of `procs` is running. */
async function expectAllGone(procs: readonly Proc[], what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let left = procs.filter((p) => alive(p.pid));
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = procs.filter((p) => alive(p.pid));
  }
  expect(
    left.map((p) => `${p.pid} ${p.cmdline}`),
    what,
  ).toEqual([]);
}

function kinds(tree: readonly Proc[]): Record<string, Proc[]> {
  return {
    services: tree.filter((p) => /services\/\w+\/src\/main\.ts/.test(p.cmdline)),
    postgres: tree.filter((p) => /bin\/postgres /.test(p.cmdline)),
    nats: tree.filter((p) => p.cmdline.includes('nats-server')),
    temporal: tree.filter((p) => p.cmdline.includes('temporal server start-dev')),
    guards: tree.filter((p) => p.cmdline.includes('activity-core-guard')),
  };
}

test(
  'start prints every URL (each works), --print-env prints the same, a second start is refused, and a stuck service is killed after the grace period',
  async () => {
    const cli = start({ dataDir, env: { AC_STOP_GRACE_SECONDS: '5' } });
    const summary = await cli.ready();

    // Every service's health and metrics answer.
    for (const service of ['api', 'ingest', 'worker']) {
      for (const what of ['health', 'metrics']) {
        const url = summary.get(`${service} ${what}`);
        expect(url, `${service} ${what} in the summary`).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/(readyz|metrics)$/);
        expect((await fetch(url as string)).status, `${service} ${what}`).toBe(200);
      }
    }
    for (const label of ['Temporal UI', 'NATS monitoring']) {
      expect((await fetch(summary.get(label) as string)).ok, label).toBe(true);
    }
    // The PostgreSQL URL works as it is printed, credentials included.
    const db = new pg.Client({ connectionString: summary.get('PostgreSQL') });
    await db.connect();
    expect((await db.query('select count(*)::int as n from definitions')).rows).toEqual([{ n: 0 }]);
    await db.end();
    // The token file holds the token the API takes.
    const tokenFile = /^in (\S+)$/.exec(summary.get('API token') ?? '')?.[1] as string;
    const token = readFileSync(tokenFile, 'utf8').trim();
    const list = await fetch(`${summary.get('API (tRPC)')}/definitions.list?input=${encodeURIComponent('{}')}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(list.status).toBe(200);

    // --print-env from another process: the same endpoints as export lines that a shell reads.
    const { stdout } = await promisify(execFile)(process.execPath, [cliPath, 'start', '--print-env'], {
      env: { ...process.env, AC_DATA_DIR: dataDir },
    });
    const exported = await promisify(execFile)('sh', [
      '-c',
      `${stdout}\nprintf '%s\\n' "$AC_API_URL" "$AC_API_TOKEN" "$AC_WORKER_METRICS_URL" "$DATABASE_URL" "$NATS_URL" "$TEMPORAL_ADDRESS"`,
    ]);
    expect(exported.stdout.trim().split('\n')).toEqual([
      summary.get('API (tRPC)'),
      token,
      summary.get('worker metrics'),
      summary.get('PostgreSQL'),
      summary.get('NATS'),
      summary.get('Temporal')?.split(' ')[0],
    ]);

    // A second start on the same data folder is refused and leaves the first one alone.
    const second = spawnStartCommand({ dataDir });
    expect((await second.exited).code).toBe(1);
    expect(second.output()).toContain(`activity-core is already running from ${dataDir}`);
    expect((await fetch(summary.get('api health') as string)).status).toBe(200);

    // Stopping: a worker that cannot react (SIGSTOP) is reported while awaited, then killed.
    const tree = treeOf(cli.child.pid as number);
    const found = kinds(tree);
    expect(found.services?.length).toBe(3);
    for (const kind of ['postgres', 'nats', 'temporal'] as const) expect(found[kind]?.length, kind).toBeGreaterThan(0);
    expect(found.guards?.length).toBe(6);
    const worker = found.services?.find((p) => p.cmdline.includes('services/worker/')) as Proc;
    process.kill(worker.pid, 'SIGSTOP');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const out = cli.output();
    expect(out).toMatch(new RegExp(`waiting for worker \\(pid ${worker.pid}\\) \\(\\d+ s\\)`));
    expect(out).toContain(`still running after the 5 s grace period; killing worker (pid ${worker.pid})`);
    expect(out).toContain('[activity-core] stopped');
    await expectAllGone(tree, 'processes left after the stop');

    const after = await promisify(execFile)(process.execPath, [cliPath, 'start', '--print-env'], {
      env: { ...process.env, AC_DATA_DIR: dataDir },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(after).toMatchObject({ code: 1 });
    expect((after as { stderr: string }).stderr).toContain(`nothing is running from ${dataDir}`);
  },
  START_TEST_TIMEOUT_MS,
);

test(
  'SIGKILL of the start command: its servers and services end with it, and the next start is clean',
  async () => {
    const cli = start();
    await cli.ready();
    const tree = treeOf(cli.child.pid as number);
    const found = kinds(tree);
    expect(found.services?.length).toBe(3);
    for (const kind of ['postgres', 'nats', 'temporal'] as const) expect(found[kind]?.length, kind).toBeGreaterThan(0);
    // Each in its own process group: none is in the start command's, so no group signal reached them.
    for (const p of [...(found.services ?? []), ...(found.nats ?? []), ...(found.temporal ?? [])]) {
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]), p.cmdline).toBe(p.pid);
    }

    cli.child.kill('SIGKILL');
    await cli.exited;
    await expectAllGone(tree, 'processes that outlived the SIGKILLed start command');

    const again = start();
    await again.ready();
    expect(again.output()).not.toContain('left over from an earlier run');
  },
  START_TEST_TIMEOUT_MS,
);

test(
  'SIGKILL of set-up (the process npm start runs): the start command under it notices and stops everything',
  async () => {
    const setup = start({ dataDir, via: 'setup' });
    await setup.ready();
    const tree = treeOf(setup.child.pid as number);
    expect(kinds(tree).services?.length).toBe(3);
    setup.child.kill('SIGKILL');
    await setup.exited;
    await expectAllGone(tree, 'processes that outlived the SIGKILLed set-up');
  },
  START_TEST_TIMEOUT_MS,
);
