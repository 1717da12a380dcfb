import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ManagedProcess, stopProcesses } from './managed-process.ts';

// A process that ignores its stop signal, as a service stuck in its shutdown would. It says
// `up` once its trap is set: a SIGTERM before that ends the shell, as it should, so the tests
// stop it only after `up` (they failed now and then on a loaded machine without that).
async function stubborn(name: string): Promise<ManagedProcess> {
  let trapped!: () => void;
  const up = new Promise<void>((resolve) => {
    trapped = resolve;
  });
  const p = new ManagedProcess({
    name,
    command: 'sh',
    args: ['-c', "trap '' TERM; echo up; while :; do sleep 1; done"],
    onLine: (line) => {
      if (line === 'up') trapped();
    },
  });
  await up;
  return p;
}

function alive(pid: number | undefined): boolean {
  try {
    return pid !== undefined && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('a process that ignores its stop signal is reported while awaited and killed after the grace period', async () => {
  const p = await stubborn('stuck');
  const log: string[] = [];
  // The report is due before the deadline, so it comes first however late the timers run.
  await stopProcesses([p], { graceMs: 1200, reportEveryMs: 100, log: (m) => log.push(m) });
  expect(p.running).toBe(false);
  expect(log[0]).toMatch(new RegExp(`^waiting for stuck \\(pid ${p.pid}\\) \\(\\d+ s\\)$`));
  expect(log.at(-1)).toBe(`still running after the 1.2 s grace period; killing stuck (pid ${p.pid})`);
  expect((await p.exited).signal).toBe('SIGKILL');
});

test('hurrying ends the wait at once', async () => {
  const p = await stubborn('slow');
  const hurry = new AbortController();
  const log: string[] = [];
  const stopped = stopProcesses([p], { graceMs: 600_000, log: (m) => log.push(m), hurry: hurry.signal });
  hurry.abort();
  await stopped;
  expect(log).toEqual([`not waiting any longer; killing slow (pid ${p.pid})`]);
});

test('the lifeline guard exits with its process, and a clean exit is not reported', async () => {
  const p = new ManagedProcess({ name: 'quick', command: 'sh', args: ['-c', 'exit 0'] });
  const guard = p.guardPid;
  expect(guard).toBeDefined();
  expect((await p.exited).code).toBe(0);
  const deadline = Date.now() + 10_000;
  while (alive(guard) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(alive(guard)).toBe(false);
  const log: string[] = [];
  await stopProcesses([p], { log: (m) => log.push(m) });
  expect(log).toEqual([]);
});

// A process's 'exit' can come before the last of its output: here a child still holds the
// pipe and writes after its parent exited. stop() must not end the log under that output
// (which lost it, or crashed the owner with "write after end" when it landed mid-close).
test('stop() keeps output that arrives after the exit in the log, and does not crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-managed-process-'));
  try {
    const logFile = join(dir, 'out.log');
    const proc = new ManagedProcess({
      name: 'sh',
      command: 'sh',
      args: ['-c', '(sleep 0.3; echo late) & echo early'],
      logFile,
    });
    await proc.exited;
    await proc.stop();
    expect(readFileSync(logFile, 'utf8')).toBe('early\nlate\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
