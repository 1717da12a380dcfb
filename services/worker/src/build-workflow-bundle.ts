// Builds the workflow bundle ahead of time, so a worker can start without bundling:
//   node services/worker/src/build-workflow-bundle.ts [out=services/worker/dist/workflow-bundle.js]
// then start the worker with AC_WORKFLOW_BUNDLE=<out>. Without it the worker bundles at start.
// Rebuild after every workflow change: a stale bundle runs old workflow code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflows } from '@activity-core/workflows/worker';

const out = resolve(process.argv[2] ?? fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url)));
const t0 = Date.now();
const bundle = await bundleWorkflows();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bundle.code);
process.stdout.write(`workflow bundle: ${out} (${Math.round(bundle.code.length / 1024)} KiB, ${Date.now() - t0} ms)\n`);
