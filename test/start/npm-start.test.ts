import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@activity-core/stack';
import { afterAll, expect, test } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'ac-start-'));
chmodSync(dataDir, 0o755);
let cliProcess: ChildProcess | undefined;
// A failed assertion must not leave the system running: stop it the way Ctrl-C would.
afterAll(async () => {
  if (cliProcess && cliProcess.exitCode === null && cliProcess.signalCode === null) {
    const exited = new Promise((resolve) => cliProcess?.once('exit', resolve));
    cliProcess.kill('SIGINT');
    const timer = setTimeout(() => cliProcess?.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

function processes(): Array<{ pid: number; ppid: number; cmdline: string }> {
  const out: Array<{ pid: number; ppid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(state);
  } catch {
    return false;
  }
}

// `npm start` minus the set-up step (which the test run has already done): the servers,
// the migrations and the three services come up healthy, and SIGINT stops all of them.
test('the start command brings up the stack and the services, and SIGINT leaves nothing behind', async () => {
  const ports = [
    'AC_POSTGRES_PORT',
    'AC_NATS_PORT',
    'AC_NATS_MONITOR_PORT',
    'AC_TEMPORAL_PORT',
    'AC_TEMPORAL_UI_PORT',
    'AC_API_PORT',
    'AC_INGEST_PORT',
    'AC_WORKER_PORT',
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, AC_DATA_DIR: dataDir };
  for (const p of ports) env[p] = '0';
  for (const v of ['DATABASE_URL', 'NATS_URL', 'TEMPORAL_ADDRESS', 'AC_API_TOKEN']) delete env[v];
  const cli = spawn(process.execPath, [join(REPO_ROOT, 'packages', 'stack', 'src', 'cli.ts'), 'start'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cliProcess = cli;
  let output = '';
  cli.stdout.on('data', (c: Buffer) => (output += c.toString()));
  cli.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes('press Ctrl-C to stop')) {
        clearInterval(timer);
        resolve();
      }
      if (cli.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`start exited early:\n${output}`));
      }
    }, 100);
  });
  expect(output).toMatch(/API \(tRPC\)\s+http:\/\/127\.0\.0\.1:\d+\/trpc/);
  expect(output).toMatch(/Temporal UI\s+http:\/\/127\.0\.0\.1:\d+/);
  const apiUrl = /API health\s+(\S+)/.exec(output)?.[1] as string;
  expect((await fetch(apiUrl)).status).toBe(200);

  const all = processes();
  const services = all.filter((p) => p.ppid === cli.pid && /services\/\w+\/src\/main\.ts/.test(p.cmdline));
  const servers = all.filter((p) => p.cmdline.includes(dataDir));
  expect(services.length).toBe(3);
  expect(servers.some((p) => p.cmdline.includes('postgres'))).toBe(true);
  expect(servers.some((p) => p.cmdline.includes('nats-server'))).toBe(true);
  expect(servers.some((p) => p.cmdline.includes('temporal'))).toBe(true);

  cli.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(output).toContain('[activity-core] stopped');
  const leftovers = [...services, ...servers].filter((p) => alive(p.pid));
  expect(leftovers).toEqual([]);
});
