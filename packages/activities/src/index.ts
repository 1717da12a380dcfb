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
export type { ActivityDeps } from './deps.ts';
export { createRunActivities } from './run-activities.ts';
export { createTaskActivities } from './task-activities.ts';
