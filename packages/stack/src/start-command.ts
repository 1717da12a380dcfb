import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './tools.ts';

/** Every port the start command opens; 0 lets it pick free ones. */
export const START_COMMAND_PORTS = [
  'AC_POSTGRES_PORT',
  'AC_NATS_PORT',
  'AC_NATS_MONITOR_PORT',
  'AC_TEMPORAL_PORT',
  'AC_TEMPORAL_UI_PORT',
  'AC_API_PORT',
  'AC_INGEST_PORT',
  'AC_WORKER_PORT',
] as const;

export interface StartCommandOptions {
  readonly dataDir: string;
  /** Added to the environment (after the ports are set to 0 and external servers removed). */
  readonly env?: NodeJS.ProcessEnv;
  /** `cli` runs `packages/stack/src/cli.ts start`; `setup` runs it through `scripts/setup.mjs` as `npm start` does. */
  readonly via?: 'cli' | 'setup';
  readonly args?: readonly string[];
}

export interface OutputLine {
  /** Milliseconds since the command was spawned. */
  readonly atMs: number;
  readonly text: string;
}

/** The start command (`npm start` minus npm) as a child process, for tests and benchmarks. */
export interface StartCommand {
  readonly child: ChildProcess;
  readonly lines: readonly OutputLine[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The first line (printed so far or later) that matches; fails when the command exits first or on timeout. */
  waitForLine(pattern: RegExp, what: string, timeoutMs?: number): Promise<string>;
  /** Waits for "press Ctrl-C to stop" and returns the ready summary, label → value. */
  ready(timeoutMs?: number): Promise<Map<string, string>>;
}

/** Runs `npm start` minus npm (and minus set-up with `via: 'cli'`) on its own data directory. */
export function spawnStartCommand(options: StartCommandOptions): StartCommand {
  const env: NodeJS.ProcessEnv = { ...process.env, AC_DATA_DIR: options.dataDir };
  for (const p of START_COMMAND_PORTS) env[p] = '0';
  for (const v of ['DATABASE_URL', 'NATS_URL', 'TEMPORAL_ADDRESS', 'AC_API_TOKEN', 'AC_PARENT_PID']) delete env[v];
  Object.assign(env, options.env);
  const args =
    options.via === 'setup'
      ? [join(REPO_ROOT, 'scripts', 'setup.mjs'), '--then', 'start', ...(options.args ?? [])]
      : [join(REPO_ROOT, 'packages', 'stack', 'src', 'cli.ts'), 'start', ...(options.args ?? [])];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT });
  const lines: OutputLine[] = [];
  const listeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (text) => {
      lines.push({ atMs: performance.now() - t0, text });
      for (const listener of listeners) listener();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const output = (): string => lines.map((l) => l.text).join('\n');

  const waitForLine = (pattern: RegExp, what: string, timeoutMs = 180_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const line = lines.find((l) => pattern.test(l.text));
        if (!line) return false;
        done();
        resolve(line.text);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output:\n${output()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (): void => void check();
      if (check()) return;
      listeners.add(listener);
      void exited.then(({ code, signal }) => {
        // Lines still in the pipe when it exited are read before 'exit' resolves this late.
        setTimeout(() => {
          if (check()) return;
          done();
          reject(
            new Error(`the start command exited (code ${code}, signal ${signal}) before ${what}; output:\n${output()}`),
          );
        }, 100);
      });
    });

  return {
    child,
    lines,
    exited,
    output,
    waitForLine,
    async ready(timeoutMs) {
      await waitForLine(/press Ctrl-C to stop/, 'the ready summary', timeoutMs);
      const summary = new Map<string, string>();
      const start = lines.findIndex((l) => /\] ready in /.test(l.text));
      for (const { text } of lines.slice(start + 1)) {
        const row = /^ {2}(\S.*?) {2,}(\S.*)$/.exec(text);
        if (row) summary.set(row[1] as string, row[2] as string);
      }
      return summary;
    },
  };
}
