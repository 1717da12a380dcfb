// Builds the workflow bundle ahead of time, so a worker can start without bundling:
//   node services/worker/src/build-workflow-bundle.ts [out=services/worker/dist/workflow-bundle.js]
// then start the worker with AC_WORKFLOW_BUNDLE=<out>. Without it the worker bundles at start.
// Rebuild after every workflow change: a stale bundle runs old workflow code. Build it with the
// worker's OTEL_* variables: with an OTLP endpoint set, the bundle carries Temporal's tracing
// workflow interceptors (the worker warns when bundle and tracing setting differ).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tracingSettingsFrom } from '@activity-core/runtime';
import { bundleWorkflows } from '@activity-core/workflows/worker';

const out = resolve(process.argv[2] ?? fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url)));
const t0 = Date.now();
const tracing = tracingSettingsFrom(process.env).enabled;
const bundle = await bundleWorkflows({ tracing });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bundle.code);
process.stdout.write(
  `workflow bundle: ${out} (${Math.round(bundle.code.length / 1024)} KiB, ${Date.now() - t0} ms, tracing ${tracing ? 'on' : 'off'})\n`,
);
