import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { StackError } from './errors.ts';

export interface ManagedProcessOptions {
  /** Short name used in messages, e.g. `temporal`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** File that receives the process's stdout and stderr (appended to). */
  readonly logFile?: string;
  /** Called with each line the process prints (stdout and stderr), e.g. to show it prefixed. */
  readonly onLine?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly uid?: number;
  readonly gid?: number;
  /** The signal that asks this process to shut down cleanly (PostgreSQL: SIGINT). Default SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
  /**
   * How long the lifeline guard waits after `stopSignal` before it sends SIGKILL, when the
   * owner died without stopping the process. Default 15 s.
   */
  readonly orphanGraceMs?: number;
}

const TAIL_LINES = 40;

/**
 * Watches one process group on behalf of its owner, through a pipe only the owner holds:
 * when the owner dies, however it dies (SIGKILL included), the kernel closes the pipe, `read`
 * returns, and the guard stops the group (the stop signal, then SIGKILL after the grace
 * period). When the owner ends the watch itself it writes `done` first, and the guard just
 * exits. It ignores the terminal's signals: only the pipe decides. Linux offers no
 * PR_SET_PDEATHSIG from Node, and none of the servers watches its parent, so a guard does.
 */
const GUARD_SCRIPT = `trap '' INT TERM HUP
read -r line
[ "$line" = done ] && exit 0
kill -s "$2" -- "-$1" 2>/dev/null || exit 0
i=0
while kill -s 0 -- "-$1" 2>/dev/null; do
  if [ "$i" -ge "$3" ]; then kill -s KILL -- "-$1" 2>/dev/null; exit 0; fi
  sleep 1
  i=$((i + 1))
done`;

function startGuard(pgid: number, signal: NodeJS.Signals, graceMs: number): ChildProcess {
  const args = [String(pgid), signal.replace(/^SIG/, ''), String(Math.ceil(graceMs / 1000))];
  const guard = spawn('sh', ['-c', GUARD_SCRIPT, 'activity-core-guard', ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    // Its own group, so a Ctrl-C meant for the owner does not reach it.
    detached: true,
  });
  guard.on('error', () => undefined);
  guard.stdin?.on('error', () => undefined);
  // The guard must never keep the owner alive.
  guard.unref();
  (guard.stdin as Socket | null)?.unref();
  return guard;
}

/**
 * A child process in its own process group, with its output kept in a log file (or handed to
 * `onLine`) and the last lines in memory, so a failed start can say what the process said. A
 * lifeline guard ends the group if the owner dies without stopping it.
 */
export class ManagedProcess {
  readonly name: string;
  readonly logFile: string | undefined;
  readonly stopSignal: NodeJS.Signals;
  readonly #child: ChildProcess;
  readonly #log: WriteStream | undefined;
  readonly #logClosed: Promise<void>;
  readonly #tail: string[] = [];
  readonly #guard: ChildProcess | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.stopSignal = options.stopSignal ?? 'SIGTERM';
    this.#log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const log = this.#log;
    this.#logClosed = log ? new Promise((resolve) => log.once('close', () => resolve())) : Promise.resolve();
    this.#child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      // Own process group: a Ctrl-C in the terminal reaches the owner only, which then stops
      // services before the servers they depend on.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    if (this.#child.pid !== undefined) {
      this.#guard = startGuard(this.#child.pid, this.stopSignal, options.orphanGraceMs ?? 15_000);
    }
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      if (!stream) continue;
      if (this.#log) stream.on('data', (chunk: Buffer) => this.#log?.write(chunk));
      createInterface({ input: stream }).on('line', (line) => {
        options.onLine?.(line);
        if (line.trim() === '') return;
        this.#tail.push(line);
        if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      });
    }
    // After 'exit' a process's last output can still be in flight; 'close' comes after it.
    let logEnded = false;
    const endLog = (): void => {
      if (logEnded) return;
      logEnded = true;
      this.#log?.end();
    };
    this.#child.once('close', endLog);
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitInfo = { code, signal };
        this.#endGuard();
        resolve(this.#exitInfo);
      });
      this.#child.once('error', (error) => {
        this.#tail.push(`spawn error: ${error.message}`);
        this.#exitInfo = { code: -1, signal: null };
        this.#endGuard();
        endLog();
        resolve(this.#exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The pid of the lifeline guard (for tests that check nothing outlives its owner). */
  get guardPid(): number | undefined {
    return this.#guard?.pid;
  }

  get running(): boolean {
    return this.#exitInfo === undefined;
  }

  /** The last lines the process printed. */
  tail(): string {
    return this.#tail.join('\n');
  }

  /** Fails with the log tail if the process exits before `ready` resolves, or on timeout. */
  async waitReady(ready: (signal: AbortSignal) => Promise<void>, timeoutMs: number): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StackError('start_timeout', this.#describeFailure(`not ready after ${timeoutMs} ms`))),
        timeoutMs,
      );
    });
    const exit = this.exited.then((info) => {
      throw new StackError(
        'start_failed',
        this.#describeFailure(`exited early (code ${info.code}, signal ${info.signal})`),
      );
    });
    try {
      await Promise.race([ready(controller.signal), timeout, exit]);
    } finally {
      controller.abort();
      clearTimeout(timer);
      exit.catch(() => undefined);
    }
  }

  #describeFailure(what: string): string {
    const where = this.logFile ? ` Log: ${this.logFile}` : '';
    return `${this.name} ${what}.${where}\n--- last lines ---\n${this.tail()}`;
  }

  /** Sends a signal to the whole process group (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.running && this.#child.pid !== undefined) killGroup(this.#child.pid, signal);
  }

  /** The stop signal to the whole group, SIGKILL after the grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    await stopProcesses([this], { graceMs });
    await this.#logClosed;
  }

  #endGuard(): void {
    const stdin = this.#guard?.stdin;
    if (stdin && !stdin.destroyed) stdin.end('done\n');
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export interface StopOptions {
  /** How long to wait after the stop signal before SIGKILL. */
  readonly graceMs?: number;
  /** Progress lines: which processes are still awaited, and what was killed. */
  readonly log?: (message: string) => void;
  /** How often to say which processes are still awaited. Default 3 s. */
  readonly reportEveryMs?: number;
  /** Aborting it ends the wait at once: everything still running is killed. */
  readonly hurry?: AbortSignal;
}

/**
 * Stops processes together: each gets its stop signal at once; every few seconds `log` hears
 * which are still running; whatever is still running after the grace period (or when `hurry`
 * aborts) is killed with SIGKILL, with a line saying so. Resolves when all have exited.
 */
export async function stopProcesses(processes: readonly ManagedProcess[], options: StopOptions = {}): Promise<void> {
  const graceMs = options.graceMs ?? 15_000;
  const log = options.log ?? (() => undefined);
  const t0 = Date.now();
  for (const p of processes) p.signal(p.stopSignal);
  const describe = (ps: readonly ManagedProcess[]): string => ps.map((p) => `${p.name} (pid ${p.pid})`).join(', ');
  const running = (): ManagedProcess[] => processes.filter((p) => p.running);
  const kill = (why: string): void => {
    const left = running();
    if (left.length === 0) return;
    // Once killed there is nothing left to wait for: no more "waiting for" lines after this one.
    clearInterval(report);
    log(`${why}; killing ${describe(left)}`);
    for (const p of left) p.signal('SIGKILL');
  };
  const report = setInterval(() => {
    const left = running();
    if (left.length > 0) log(`waiting for ${describe(left)} (${Math.round((Date.now() - t0) / 1000)} s)`);
  }, options.reportEveryMs ?? 3000);
  const deadline = setTimeout(() => kill(`still running after the ${graceMs / 1000} s grace period`), graceMs);
  const onHurry = (): void => kill('not waiting any longer');
  options.hurry?.addEventListener('abort', onHurry, { once: true });
  if (options.hurry?.aborted) onHurry();
  try {
    await Promise.all(processes.map((p) => p.exited));
  } finally {
    clearInterval(report);
    clearTimeout(deadline);
    options.hurry?.removeEventListener('abort', onHurry);
  }
}

/** Polls `check` until it resolves, or the signal aborts. */
export async function pollUntil(check: () => Promise<boolean>, signal: AbortSignal, intervalMs = 100): Promise<void> {
  while (!signal.aborted) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
