#!/usr/bin/env node
// `activity-core` inside the repository: runs the TypeScript sources, which need a Node that
// strips types (22.18 or later, unless type stripping is turned off). Any other Node re-runs
// them under the Node that set-up (`npm start` / `npm test`) put in .tools/, as a child that
// gets the signals sent to this process (npx, a supervisor or `kill` may signal this pid
// alone) and whose exit this process mirrors. The published package's bin is dist/main.js.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'src', 'main.ts');
// 'strip' or 'transform' where Node runs .ts files; false or (before 22.10) undefined where not.
if (process.features.typescript) {
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
  const child = spawn(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal) => child.kill(signal);
  for (const signal of forwarded) process.on(signal, forward);
  child.on('error', (error) => {
    process.stderr.write(`activity-core: cannot start ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Ended by a signal: end this process by the same one, so its parent sees the same status.
    for (const s of forwarded) process.off(s, forward);
    process.kill(process.pid, signal);
  });
}
