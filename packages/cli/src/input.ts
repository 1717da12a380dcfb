import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, ExitCode } from './errors.ts';

/** `@file.json` (read and parsed), `-` (standard input) or inline JSON, for `--event` and `--data`. */
export function jsonArgument(value: string, option: string, cwd: string): unknown {
  let text = value;
  let origin = option;
  if (value.startsWith('@')) {
    const file = resolve(cwd, value.slice(1));
    origin = value.slice(1);
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new CliError(`${option}: cannot read ${value.slice(1)}`, ExitCode.invalid);
    }
  } else if (value === '-') {
    text = readFileSync(0, 'utf8');
    origin = 'standard input';
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${option}: ${origin} is not JSON: ${(error as Error).message}`, ExitCode.invalid);
  }
}

export function positiveInt(value: string, option: string, max?: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || (max !== undefined && n > max)) {
    throw new CliError(
      `${option}: expected a whole number from 1${max !== undefined ? ` to ${max}` : ''}, got "${value}"`,
      ExitCode.usage,
    );
  }
  return n;
}
