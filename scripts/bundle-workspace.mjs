// The one way a publishable package (the client, the CLI) is bundled: one ES module (esbuild)
// with the workspace code it needs inlined and its npm dependencies left as dependencies.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Workspace packages are pure modules: esbuild may drop what a bundle does not use (the
 * client's NATS publisher, CEL, the cron engine …) instead of keeping every module-level call.
 * Modules under node_modules keep their own `sideEffects` answer.
 */
function workspaceSideEffectFree(workspace) {
  return {
    name: 'workspace-side-effect-free',
    setup(b) {
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
  };
}

/**
 * Bundles `entry` of the package at `root` (a folder under `packages/`) into `outfile`, with
 * the package's `dependencies` external. `target` is the oldest Node the package promises.
 * `build` is esbuild's, passed in by the package's build script: esbuild is the package's
 * dev dependency, which this file (outside every package) cannot resolve.
 */
export async function bundleWorkspacePackage(build, { root, entry, outfile, target }) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target,
    external: Object.keys(pkg.dependencies ?? {}),
    sourcemap: true,
    logLevel: 'warning',
    // A source's own `#!/usr/bin/env node` line is kept by esbuild.
    plugins: [workspaceSideEffectFree(join(root, '..'))],
  });
}
