import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@activity-core/stack';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stackInfo } from '../support/stack.ts';
import { BOOTSTRAP_TOKEN, startTestApi, type TestApi } from './support.ts';

const run = promisify(execFile);
const PNPM = join(REPO_ROOT, '.tools/pnpm/node_modules/pnpm/bin/pnpm.cjs');
const CLIENT = join(REPO_ROOT, 'packages/client');

let api: TestApi;
let dir: string;
beforeAll(async () => {
  api = await startTestApi();
  // Outside the repository, so neither pnpm's workspace nor the sources can leak in.
  dir = mkdtempSync(join(tmpdir(), 'ac-consumer-'));
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an outside project installs the packed client, typechecks and runs against the API', async () => {
  await run(process.execPath, [join(CLIENT, 'scripts/build.mjs')], { cwd: CLIENT });
  const packs = join(dir, 'packs');
  await run(process.execPath, [PNPM, 'pack', '--pack-destination', packs], { cwd: CLIENT });
  const [tarball] = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  expect(tarball).toBeDefined();

  const project = join(dir, 'consumer');
  cpSync(join(REPO_ROOT, 'examples/consumer'), project, { recursive: true });
  const manifestPath = join(project, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  manifest.dependencies['@activity-core/client'] = `file:${join(packs, tarball as string)}`;
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  await run(process.execPath, [PNPM, 'install', '--ignore-workspace', '--prefer-offline', '--reporter=silent'], {
    cwd: project,
  });
  // The installed package carries only its build output: no TypeScript sources of the workspace.
  const installed = join(project, 'node_modules/@activity-core/client');
  expect(readdirSync(installed).sort()).toEqual(['dist', 'package.json']);

  // The consumer's own TypeScript; a failure prints the diagnostics.
  await run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: project,
  }).catch((error: { stdout?: string }) => {
    throw new Error(`consumer typecheck failed:\n${error.stdout ?? String(error)}`);
  });

  const { stdout } = await run(process.execPath, ['src/main.ts'], {
    cwd: project,
    env: {
      PATH: process.env.PATH,
      AC_API_URL: api.trpcUrl,
      AC_API_TOKEN: BOOTSTRAP_TOKEN,
      NATS_URL: stackInfo().natsUrl,
      AC_STREAM_PREFIX: api.prefix,
    },
  });
  const report = JSON.parse(stdout);
  expect(report).toMatchObject({
    created: { version: 1 },
    listed: true,
    dryRun: { wouldTrigger: true, titles: ['Review order A-1'] },
    conflict: 'CONFLICT',
    fieldPaths: ['spec.key'],
    published: { subject: `${api.prefix.toLowerCase()}.events.order.created`, duplicate: true },
  });
});
