// Builds the publishable client into dist/: one ES module bundle (esbuild) with the workspace
// code it needs inlined, and declarations (tsc) for the client and the workspace sources its
// types reach (AppRouter → api → core …), with workspace specifiers rewritten to relative
// paths so the published package needs no @activity-core/* package besides itself.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleWorkspacePackage } from '../../../scripts/bundle-workspace.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const types = join(dist, 'types');
rmSync(dist, { recursive: true, force: true });

await bundleWorkspacePackage(build, { root, entry: 'src/index.ts', outfile: join(dist, 'index.js'), target: 'node20' });

const tsc = join(root, 'node_modules/typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const repo = join(root, '../..');
const workspaceEntry = (name) =>
  name === 'migrations' ? join(types, 'migrations/index.d.ts') : join(types, 'packages', name, 'src/index.d.ts');

function* walk(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (path.endsWith('.d.ts')) yield path;
  }
}

for (const file of walk(types)) {
  const source = readFileSync(file, 'utf8');
  const rewritten = source
    .replace(/(['"])(\.{1,2}\/[^'"]+)\.ts\1/g, '$1$2.js$1')
    .replace(/(['"])@activity-core\/([a-z-]+)\1/g, (_m, q, name) => {
      let rel = relative(dirname(file), workspaceEntry(name)).replace(/\.d\.ts$/, '.js');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return `${q}${rel}${q}`;
    });
  if (/@activity-core\//.test(rewritten.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''))) {
    throw new Error(`unrewritten workspace import left in ${relative(repo, file)}`);
  }
  writeFileSync(file, rewritten);
}
process.stdout.write(`built ${relative(repo, dist)}\n`);
