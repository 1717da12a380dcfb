#!/usr/bin/env node
// `activity-core` inside the repository: runs the TypeScript sources, which need Node 22.18 or
// later (type stripping). On an older Node it re-runs itself under the Node that set-up
// (`npm start` / `npm test`) put in .tools/. The published package's bin is dist/main.js instead.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'src', 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  await import(main);
} else {
  const tools = join(here, '..', '..', '..', '.tools', 'tools.json');
  const node = existsSync(tools) ? JSON.parse(readFileSync(tools, 'utf8')).node : undefined;
  if (!node || !existsSync(node)) {
    process.stderr.write(
      `activity-core: Node ${process.versions.node} cannot run the sources; run \`npm start\` or \`npm test\` once (it installs Node 24 into .tools/), or use Node 22.18+\n`,
    );
    process.exit(1);
  }
  const result = spawnSync(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
