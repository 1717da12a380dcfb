export { createActivities } from './activities.ts';
export type { ContextResolver, ContextResolverArgs, ContextResolverRegistry } from './context-sources/custom.ts';
export { createContextResolverRegistry } from './context-sources/custom.ts';
export { ContextSourceError } from './context-sources/errors.ts';
export type { HttpSourceSettings } from './context-sources/http.ts';
export { isHostAllowed } from './context-sources/http.ts';
export type { ContextSourceDeps } from './context-sources/registry.ts';
export { contextSourceResolvers } from './context-sources/registry.ts';
export type {
  ResolveContextDeps,
  ResolveContextInput,
  ResolvedContext,
  SourceSnapshot,
} from './context-sources/resolve.ts';
export { resolveContextSources } from './context-sources/resolve.ts';
export { scrubSecrets } from './context-sources/secrets.ts';
export type {
  SourceResolution,
  SourceResolver,
  SourceResolvers,
  SourceScope,
} from './context-sources/source-resolver.ts';
export type { ActivityDeps, ActivityMetrics } from './deps.ts';
