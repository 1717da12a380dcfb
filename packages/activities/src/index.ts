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
