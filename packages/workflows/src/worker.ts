// Worker-side entry (`@activity-core/workflows/worker`): workflow bundling. Kept apart from the
// main entry so clients (ingest, API) do not load the Temporal worker, its native bridge or the
// bundler. The activities the worker registers are in `@activity-core/activities`.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { silentTemporalLogger } from '@activity-core/runtime';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** Absolute path of the workflow entry module, for `Worker.create({ workflowsPath })` or bundling. */
export const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));

/**
 * Temporal's OpenTelemetry workflow interceptors (workflow, activity and child-workflow spans,
 * exported through the worker's `exporter` sink). Bundled only when tracing is on: Temporal
 * evaluates the bundle per workflow execution, and the module adds the OTel API and SDK to it.
 */
const require = createRequire(import.meta.url);
export const tracingInterceptorsPath = require.resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

/** A marker of the tracing interceptors in a bundle's code (to check a prebuilt bundle). */
export const TRACING_BUNDLE_MARKER = 'OpenTelemetryInboundInterceptor';

/**
 * Bundles the workflow code once (webpack + swc; seconds). Pass the result as
 * `workflowBundle` to every `Worker.create` and to `Worker.runReplayHistories`. With
 * `tracing: true` the bundle carries Temporal's OpenTelemetry workflow interceptors (the worker
 * must then register the `exporter` sink, see the worker service).
 *
 * The workflow modules are preloaded (`preloadModules`): the worker's reusable V8 context
 * evaluates them once and shares them, frozen, between executions. Without it every execution
 * evaluates the 18 modules the entry reaches that the SDK's runtime does not (ours and six of
 * `@temporalio/workflow`'s) and keeps its own copy of them while it is cached. Sharing is safe
 * because these modules hold no state at module level: constants, handle definitions, activity
 * proxies and functions (workflow state lives in each execution's closures). Keep it so: a
 * module-level `let` or cache here would leak between workflow executions.
 */
export async function bundleWorkflows(
  options: { quiet?: boolean; tracing?: boolean } = {},
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    preloadModules: [workflowsPath],
    ...(options.tracing ? { workflowInterceptorModules: [tracingInterceptorsPath] } : {}),
    ...(options.quiet !== false ? { logger: silentTemporalLogger } : {}),
  });
}
