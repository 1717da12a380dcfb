import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@activity-core/stack';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BOOTSTRAP_TOKEN, startTestApi, type TestApi } from '../api/support.ts';

const run = promisify(execFile);
const PNPM = join(REPO_ROOT, '.tools/pnpm/node_modules/pnpm/bin/pnpm.cjs');
const CLI = join(REPO_ROOT, 'packages/cli');

let api: TestApi;
let dir: string;
beforeAll(async () => {
  api = await startTestApi();
  // Outside the repository, so neither pnpm's workspace nor the sources can leak in.
  dir = mkdtempSync(join(tmpdir(), 'ac-cli-pack-'));
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the packed CLI installs outside the repository and runs against the API', async () => {
  await run(process.execPath, [join(CLI, 'scripts/build.mjs')], { cwd: CLI });
  const packs = join(dir, 'packs');
  await run(process.execPath, [PNPM, 'pack', '--pack-destination', packs], { cwd: CLI });
  const [tarball] = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  const project = join(dir, 'ops');
  await run('mkdir', ['-p', project]);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'ops',
      private: true,
      dependencies: { '@activity-core/cli': `file:${join(packs, tarball as string)}` },
    }),
  );
  await run(process.execPath, [PNPM, 'install', '--ignore-workspace', '--prefer-offline', '--reporter=silent'], {
    cwd: project,
  });
  const installed = join(project, 'node_modules/@activity-core/cli');
  // Only the build output (its dependencies may be linked beside it): no TypeScript sources.
  expect(
    readdirSync(installed)
      .filter((f) => f !== 'node_modules')
      .sort(),
  ).toEqual(['dist', 'package.json']);
  expect(readdirSync(join(installed, 'dist')).sort()).toEqual([
    'activity-definition.schema.json',
    'main.js',
    'main.js.map',
  ]);

  const bin = join(project, 'node_modules/.bin/activity-core');
  const env = {
    PATH: `${join(process.execPath, '..')}:${process.env.PATH}`,
    AC_API_URL: api.trpcUrl,
    AC_API_TOKEN: BOOTSTRAP_TOKEN,
  };
  const { stdout } = await run(
    bin,
    ['-o', 'json', 'schedule', 'preview', '0 9 * * *', '--tz', 'UTC', '--count', '2', '--from', '2026-01-01T00:00:00Z'],
    {
      cwd: project,
      env,
    },
  );
  expect(JSON.parse(stdout)).toEqual({
    timezone: 'UTC',
    dst: { gap: 'shift', fold: 'first' },
    tzdata: expect.any(String),
    times: ['2026-01-01T09:00:00.000Z', '2026-01-02T09:00:00.000Z'],
    occurrences: [
      { at: '2026-01-01T09:00:00.000Z', local: '2026-01-01T09:00:00+00:00' },
      { at: '2026-01-02T09:00:00.000Z', local: '2026-01-02T09:00:00+00:00' },
    ],
  });
  const denied = await run(bin, ['get', 'definitions'], {
    cwd: project,
    env: { ...env, AC_API_TOKEN: 'wrong-token-0123456789' },
  }).catch((e: { code: number; stderr: string }) => e);
  expect(denied).toMatchObject({ code: 5, stderr: expect.stringContaining('refused the token from AC_API_TOKEN') });
});
