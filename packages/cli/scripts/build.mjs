// Builds the publishable CLI into dist/: one ES module (esbuild) with the workspace code it
// needs inlined (the typed client, the core schema it validates against), its npm
// dependencies left as dependencies, and the JSON Schema beside it for editors.
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleWorkspacePackage } from '../../../scripts/bundle-workspace.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

await bundleWorkspacePackage(build, { root, entry: 'src/main.ts', outfile: join(dist, 'main.js'), target: 'node22' });
chmodSync(join(dist, 'main.js'), 0o755);
copyFileSync(
  join(root, '../../schemas/activity-definition.schema.json'),
  join(dist, 'activity-definition.schema.json'),
);
process.stdout.write(`built ${relative(join(root, '../..'), dist)}\n`);
