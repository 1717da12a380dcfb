// Builds the publishable CLI into dist/: one ES module (esbuild) with the workspace code it
// needs inlined (the typed client, the core schema it validates against), its npm
// dependencies left as dependencies, and the JSON Schema beside it for editors.
import { chmodSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

await build({
  entryPoints: [join(root, 'src/main.ts')],
  outfile: join(dist, 'main.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external: Object.keys(pkg.dependencies ?? {}),
  sourcemap: true,
  logLevel: 'warning',
  // The sources' own `#!/usr/bin/env node` line is kept by esbuild.
  plugins: [
    {
      // Workspace packages are pure modules: let esbuild drop what the CLI does not use (the
      // client's NATS publisher, …) instead of keeping every module-level call.
      name: 'workspace-side-effect-free',
      setup(b) {
        const workspace = join(root, '..');
        b.onResolve({ filter: /^(@activity-core\/|\.)/ }, async (args) => {
          if (args.pluginData?.skip) return undefined;
          const resolved = await b.resolve(args.path, {
            kind: args.kind,
            resolveDir: args.resolveDir,
            pluginData: { skip: true },
          });
          const inWorkspace = resolved.path.startsWith(workspace) && !resolved.path.includes('/node_modules/');
          return inWorkspace ? { ...resolved, sideEffects: false } : resolved;
        });
      },
    },
  ],
});
chmodSync(join(dist, 'main.js'), 0o755);
copyFileSync(
  join(root, '../../schemas/activity-definition.schema.json'),
  join(dist, 'activity-definition.schema.json'),
);
process.stdout.write(`built ${relative(join(root, '../..'), dist)}\n`);
