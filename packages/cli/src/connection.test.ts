import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConnection } from './connection.ts';
import { CliError, ExitCode } from './errors.ts';

// A checkout as the CLI recognises one, with `npm start`'s data directory: running.json names
// the start command's pid and, once ready, its endpoints; the token sits in a file of its own.
let checkout: string;
let dataDir: string;
let starter: ChildProcess;

beforeAll(async () => {
  checkout = mkdtempSync(join(tmpdir(), 'ac-connection-'));
  // Open to others, as a checkout is: as root, npm start moves the data of a private one away.
  chmodSync(checkout, 0o755);
  writeFileSync(join(checkout, 'pnpm-workspace.yaml'), 'packages: []\n');
  mkdirSync(join(checkout, 'packages', 'stack'), { recursive: true });
  mkdirSync(join(checkout, 'definitions'));
  dataDir = join(checkout, '.data');
  mkdirSync(dataDir);
  // Stands in for `npm start`: a live process whose command line names the stack CLI.
  starter = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'cli.ts'], { stdio: 'ignore' });
  await new Promise((resolve) => starter.once('spawn', resolve));
});

afterAll(() => {
  starter.kill('SIGKILL');
  rmSync(checkout, { recursive: true, force: true });
});

function running(pid: number | undefined): void {
  const tokenFile = join(dataDir, 'token-of-this-start');
  writeFileSync(tokenFile, 'from-running-json\n');
  writeFileSync(join(dataDir, 'api-token'), 'from-api-token-file\n');
  writeFileSync(
    join(dataDir, 'running.json'),
    JSON.stringify({ pid, endpoints: { apiUrl: 'http://127.0.0.1:4567/trpc', tokenFile } }),
  );
}

describe('resolveConnection', () => {
  it('inside a checkout while npm start runs: the API address and token file from running.json', () => {
    running(starter.pid);
    const c = resolveConnection({}, {}, join(checkout, 'definitions'));
    expect(c).toEqual({
      url: 'http://127.0.0.1:4567/trpc',
      token: 'from-running-json',
      tokenSource: join(dataDir, 'token-of-this-start'),
    });
  });

  it('flags, then AC_API_URL / AC_API_TOKEN, win over what npm start recorded', () => {
    running(starter.pid);
    const env = { AC_API_URL: 'http://env/trpc', AC_API_TOKEN: 'env-token' };
    expect(resolveConnection({}, env, checkout)).toMatchObject({ url: 'http://env/trpc', token: 'env-token' });
    expect(resolveConnection({ url: 'http://flag/trpc', token: 'flag-token' }, env, checkout)).toEqual({
      url: 'http://flag/trpc',
      token: 'flag-token',
      tokenSource: '--token',
    });
  });

  it('a running.json left by a start that is gone is ignored: the default address, the data dir token', () => {
    running(2 ** 22 + 1); // above Linux's pid_max: no such process
    expect(resolveConnection({}, {}, checkout)).toEqual({
      url: 'http://127.0.0.1:3000/trpc',
      token: 'from-api-token-file',
      tokenSource: join(dataDir, 'api-token'),
    });
  });

  it('outside a checkout and without AC_API_TOKEN: an auth error that says where a token comes from', () => {
    const outside = mkdtempSync(join(tmpdir(), 'ac-outside-'));
    try {
      const error = (() => {
        try {
          resolveConnection({}, {}, outside);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(CliError);
      expect(error).toMatchObject({ exitCode: ExitCode.auth, message: expect.stringContaining('AC_API_TOKEN') });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
