import { type ExecFileOptions, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WAIT_MS, WaitTimeoutError, within } from './wait.ts';

const run = promisify(execFile);

/**
 * Runs `node ...args` to its end and returns its output. After `timeoutMs` (default
 * {@link WAIT_MS}) the child is killed and the error names `what`; a non-zero exit rejects
 * as execFile does (with `code`, `stdout`, `stderr`).
 */
export async function runNode(
  what: string,
  args: readonly string[],
  options: Omit<ExecFileOptions, 'signal' | 'encoding'> = {},
  timeoutMs = WAIT_MS,
): Promise<{ stdout: string; stderr: string }> {
  const controller = new AbortController();
  try {
    return await within(run(process.execPath, [...args], { ...options, signal: controller.signal, encoding: 'utf8' }), {
      what,
      timeoutMs,
    });
  } catch (error) {
    if (error instanceof WaitTimeoutError) controller.abort();
    throw error;
  }
}
