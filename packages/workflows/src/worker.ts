// Worker-side entry (`@activity-core/workflows/worker`): workflow bundling. Kept apart from the
// main entry so clients (ingest, API) do not load the Temporal worker, its native bridge or the
// bundler. The activities the worker registers are in `@activity-core/activities`.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** Absolute path of the workflow entry module, for `Worker.create({ workflowsPath })` or bundling. */
export const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));

/**
 * Bundles the workflow code once (webpack + swc; seconds). Pass the result as
 * `workflowBundle` to every `Worker.create` and to `Worker.runReplayHistories`.
 */
export async function bundleWorkflows(options: { quiet?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  return bundleWorkflowCode({ workflowsPath, ...(options.quiet !== false ? { logger: silent } : {}) });
}
