import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { StackError } from './errors.ts';

export interface ManagedProcessOptions {
  /** Short name used in messages, e.g. `temporal`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** File that receives the process's stdout and stderr. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly uid?: number;
  readonly gid?: number;
}

const TAIL_LINES = 40;

/**
 * A child process in its own process group, with its output kept in a log file and the last
 * lines in memory, so a failed start can say what the server said.
 */
export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly #tail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.#log = createWriteStream(options.logFile, { flags: 'a' });
    this.#child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      // Own process group: a Ctrl-C in the terminal reaches the stack's owner first, which then
      // stops services before the servers they depend on.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    const onData = (chunk: Buffer): void => {
      this.#log.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.#tail.push(line);
        if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      }
    };
    this.#child.stdout?.on('data', onData);
    this.#child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitInfo = { code, signal };
        resolve(this.#exitInfo);
      });
      this.#child.once('error', (error) => {
        this.#tail.push(`spawn error: ${error.message}`);
        this.#exitInfo = { code: -1, signal: null };
        resolve(this.#exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
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
    return `${this.name} ${what}. Log: ${this.logFile}\n--- last lines ---\n${this.tail()}`;
  }

  /** SIGTERM (or the given signal) to the whole group, SIGKILL after the grace period. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (this.running && this.#child.pid !== undefined) {
      killGroup(this.#child.pid, signal);
      const timer = setTimeout(() => {
        if (this.running && this.#child.pid !== undefined) killGroup(this.#child.pid, 'SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.#log.end(resolve));
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
