import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { natsCliBinary, REPO_ROOT, type StartCommand, spawnStartCommand } from '@activity-core/stack';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { extractSnippets, normalise, type Snippet } from './readme-snippets.ts';

// The README's quick start, run as a newcomer would: every `sh check` block, in order, in one
// shell environment, against a real `npm start` (minus set-up) on its own data folder, each
// output compared with the block the README shows after it. See readme-snippets.ts for the
// marks and for what the comparison ignores.

const snippets = extractSnippets(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
const dataDir = mkdtempSync(join(tmpdir(), 'ac-readme-'));
chmodSync(dataDir, 0o755);
const envFile = join(dataDir, 'snippet-env.sh');
let system: StartCommand | undefined;

// A start can take a minute on a loaded 2-core machine.
beforeAll(async () => {
  system = spawnStartCommand({ dataDir });
  await system.ready(360_000);
  writeFileSync(envFile, '');
}, 420_000);

afterAll(async () => {
  if (system && system.child.exitCode === null) {
    system.child.kill('SIGINT');
    const timer = setTimeout(() => system?.child.kill('SIGKILL'), 60_000);
    await system.exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** Runs one block in bash: the environment earlier blocks left, stderr merged into stdout. */
function run(snippet: Snippet): Promise<{ ok: boolean; output: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AC_DATA_DIR: dataDir,
    PATH: `${dirname(natsCliBinary())}:${process.env.PATH ?? ''}`,
  };
  for (const v of ['DATABASE_URL', 'NATS_URL', 'TEMPORAL_ADDRESS', 'AC_API_URL', 'AC_API_TOKEN']) delete env[v];
  const script = `set -eo pipefail\nsource ${JSON.stringify(envFile)}\nexec 2>&1\n${snippet.script}\nexport -p > ${JSON.stringify(envFile)}\n`;
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd: REPO_ROOT, env, timeout: 60_000 }, (error, stdout) => {
      resolve({ ok: error === null, output: stdout });
    });
  });
}

test('the README marks its quick-start commands for this test', () => {
  const scripts = snippets.map((s) => s.script).join('\n');
  for (const needed of ['--print-env', 'definitions.create', 'tasks.list', 'nats pub', 'AC_DLQ', 'HTTP %{http_code}']) {
    expect(scripts, `a checked README snippet using ${needed}`).toContain(needed);
  }
  expect(snippets.filter((s) => s.expected !== undefined).length).toBeGreaterThanOrEqual(8);
});

test.each(snippets.map((s) => [s.line, s] as const))(
  'README line %i prints what the README shows',
  async (_, snippet) => {
    const deadline = Date.now() + (snippet.eventually ? 90_000 : 0);
    let result = await run(snippet);
    const matches = (output: string): boolean =>
      snippet.expected === undefined || normalise(output) === normalise(snippet.expected);
    while (snippet.eventually && !(result.ok && matches(result.output)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      result = await run(snippet);
    }
    expect(result.ok, `README line ${snippet.line} failed:\n${result.output}`).toBe(true);
    if (snippet.expected !== undefined) expect(normalise(result.output)).toBe(normalise(snippet.expected));
  },
  200_000,
);
