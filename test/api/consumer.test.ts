import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@activity-core/stack';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runNode } from '../support/process.ts';
import { stackInfo } from '../support/stack.ts';
import { outlasting, WaitTimeoutError } from '../support/wait.ts';
import { BOOTSTRAP_TOKEN, startTestApi, type TestApi } from './support.ts';

const PNPM = join(REPO_ROOT, '.tools/pnpm/node_modules/pnpm/bin/pnpm.cjs');
const CLIENT = join(REPO_ROOT, 'packages/client');
// Five child processes one after another, more than the default test timeout could hold. Each
// has a deadline of its own and says which step hung. The deadlines catch hangs, not slowness:
// the build and the typecheck are tsc runs of ~25 s CPU each, which took 70 s of wall time at
// load 7 on 2 cores and over 60 s in a CI run beside the other suites, so they get four minutes.
const BUILD_MS = 240_000;
const PACK_MS = 60_000;
const INSTALL_MS = 120_000;
const TYPECHECK_MS = 240_000;
const MAIN_MS = 60_000;

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

test(
  'an outside project installs the packed client, typechecks and runs against the API',
  async () => {
    await runNode('the build of packages/client', [join(CLIENT, 'scripts/build.mjs')], { cwd: CLIENT }, BUILD_MS);
    const packs = join(dir, 'packs');
    await runNode(
      'pnpm pack of packages/client',
      [PNPM, 'pack', '--pack-destination', packs],
      { cwd: CLIENT },
      PACK_MS,
    );
    const [tarball] = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();

    const project = join(dir, 'consumer');
    cpSync(join(REPO_ROOT, 'examples/consumer'), project, { recursive: true });
    const manifestPath = join(project, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.dependencies['@activity-core/client'] = `file:${join(packs, tarball as string)}`;
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    await runNode(
      `pnpm install in the consumer project ${project}`,
      [PNPM, 'install', '--ignore-workspace', '--prefer-offline', '--reporter=silent'],
      { cwd: project },
      INSTALL_MS,
    );
    // The installed package carries only its build output: no TypeScript sources of the workspace.
    const installed = join(project, 'node_modules/@activity-core/client');
    expect(readdirSync(installed).sort()).toEqual(['dist', 'package.json']);

    // The consumer's own TypeScript; a failure prints the diagnostics.
    await runNode(
      'the consumer typecheck',
      [join(project, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
      {
        cwd: project,
      },
      TYPECHECK_MS,
    ).catch((error: unknown) => {
      if (error instanceof WaitTimeoutError) throw error;
      throw new Error(`consumer typecheck failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
    });

    const { stdout } = await runNode(
      'the consumer program against the API',
      ['src/main.ts'],
      {
        cwd: project,
        env: {
          PATH: process.env.PATH,
          AC_API_URL: api.trpcUrl,
          AC_API_TOKEN: BOOTSTRAP_TOKEN,
          NATS_URL: stackInfo().natsUrl,
          AC_STREAM_PREFIX: api.prefix,
        },
      },
      MAIN_MS,
    );
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({
      created: { version: 1 },
      listed: true,
      dryRun: { wouldTrigger: true, titles: ['Review order A-1'] },
      conflict: 'CONFLICT',
      fieldPaths: ['spec.key'],
      published: { subject: `${api.prefix.toLowerCase()}.events.order.created`, duplicate: true },
    });
  },
  outlasting(BUILD_MS, PACK_MS, INSTALL_MS, TYPECHECK_MS, MAIN_MS),
);
