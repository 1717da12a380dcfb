import { ContextSourceError } from './errors.ts';
import type { SourceResolver } from './source-resolver.ts';

/** What a custom resolver receives. `config` is the source's `config` as authored (unparsed). */
export interface ContextResolverArgs {
  readonly name: string;
  readonly config: unknown;
  readonly definition: { readonly id: string; readonly key: string; readonly version: number };
  readonly trigger: Readonly<Record<string, unknown>>;
  readonly event: unknown;
  /** Sources resolved so far. */
  readonly context: Readonly<Record<string, unknown>>;
  readonly signal: AbortSignal;
}

/** A custom context resolver: returns a JSON value. Throw `ContextSourceError` with `retryable: false` for permanent failures. */
export type ContextResolver = (args: ContextResolverArgs) => Promise<unknown>;

/**
 * Custom resolvers by name, registered in the worker:
 * `createContextResolverRegistry({ weather: async ({ config }) => … })`.
 */
export interface ContextResolverRegistry {
  get(name: string): ContextResolver | undefined;
  names(): string[];
}

export function createContextResolverRegistry(
  resolvers: Record<string, ContextResolver> = {},
): ContextResolverRegistry {
  const map = new Map(Object.entries(resolvers));
  return { get: (name) => map.get(name), names: () => [...map.keys()] };
}

/** `custom`: the resolver of that name registered in the worker. */
export function customSource(registry: ContextResolverRegistry): SourceResolver<'custom'> {
  return async (source, scope) => {
    const resolver = registry.get(source.resolver);
    if (!resolver) {
      throw new ContextSourceError(
        source.name,
        `no resolver "${source.resolver}" is registered in the worker (registered: ${registry.names().join(', ') || 'none'})`,
        { retryable: false },
      );
    }
    const value =
      (await resolver({
        name: source.name,
        config: source.config,
        definition: scope.definition,
        trigger: scope.trigger,
        event: scope.event,
        context: { ...scope.context },
        signal: scope.signal,
      })) ?? null;
    return { value, detail: { resolver: source.resolver } };
  };
}
