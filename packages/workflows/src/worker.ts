// Worker-side entry (`@activity-core/workflows/worker`): activities, context resolvers and
// workflow bundling. Kept apart from the main entry so clients (ingest, API) do not load the
// Temporal worker, its native bridge or the bundler.
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

export type { ActivityDeps } from './activities.ts';
export { createActivities } from './activities.ts';
export type {
  ContextResolver,
  ContextResolverArgs,
  ContextResolverRegistry,
  HttpSourceSettings,
  ResolvedContext,
  SourceSnapshot,
} from './context-sources.ts';
export {
  ContextSourceError,
  createContextResolverRegistry,
  isHostAllowed,
  resolveContextSources,
  scrubSecrets,
} from './context-sources.ts';
