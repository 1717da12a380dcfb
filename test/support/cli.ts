// The operator CLI (`packages/cli/bin/activity-core.js`) as a spawned process: what a person or a
// script runs, with its exit code and output.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@activity-core/stack';
import { within } from './wait.ts';

export const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/activity-core.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** AC_API_URL: the API's tRPC URL. */
  readonly apiUrl: string;
  /** AC_API_TOKEN. */
  readonly token: string;
  readonly cwd?: string;
  /** Node flags before the binary. */
  readonly nodeArgs?: readonly string[];
  /** Run it on a pseudo-terminal of its own (util-linux `script`). */
  readonly terminal?: boolean;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** The exit and all output; resolves when the process exits. */
  readonly done: Promise<CliResult>;
  /** Resolves with the exit once the process has ended; killed and failed after the wait's deadline. */
  finished(): Promise<CliResult>;
  out(): string;
  err(): string;
}

/**
 * Starts `activity-core <args>` under this Node with only PATH, SHELL, the API's address and
 * token and NO_COLOR in its environment.
 */
export function spawnCli(args: readonly string[], options: CliOptions): RunningCli {
  const argv = [...(options.nodeArgs ?? []), CLI_BIN, ...args];
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const [command, commandArgs]: [string, string[]] = options.terminal
    ? ['script', ['-qefc', [process.execPath, ...argv].map(quote).join(' '), '/dev/null']]
    : [process.execPath, argv];
  const child = spawn(command, commandArgs, {
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    env: {
      PATH: process.env.PATH,
      SHELL: '/bin/sh',
      AC_API_URL: options.apiUrl,
      AC_API_TOKEN: options.token,
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<CliResult>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return {
    child,
    done,
    finished: () =>
      within(done, { what: `activity-core ${args.join(' ')} to exit`, context: () => `${stderr}${stdout}` }).catch(
        (error: unknown) => {
          child.kill('SIGKILL');
          throw error;
        },
      ),
    out: () => stdout,
    err: () => stderr,
  };
}
