// Resolution of a definition's context sources, in declaration order (a later source may use
// an earlier one as `context.<name>`). Runs inside the resolveContext activity; each kind's
// resolver is in the file of that kind, found through the registry.
import {
  type ActivityDefinitionSpec,
  type ContextSource,
  compileStoredDefinition,
  DEFAULT_INPUT_LIMITS,
  type ExpressionLimits,
  expressionBudget,
  inspectJson,
  runVariables,
} from '@activity-core/core';
import { ContextSourceError } from './errors.ts';
import { type ContextSourceDeps, contextSourceResolvers } from './registry.ts';
import type {
  ContextSourceKind,
  SourceOfKind,
  SourceResolution,
  SourceResolvers,
  SourceScope,
} from './source-resolver.ts';
import { renderCompiled } from './templates.ts';

export interface ResolveContextDeps extends ContextSourceDeps {
  /** CEL budget and input limits of this installation (default: the core's defaults). */
  readonly limits?: ExpressionLimits;
}

export interface ResolveContextInput {
  readonly spec: ActivityDefinitionSpec;
  readonly definition: { readonly id: string; readonly key: string; readonly version: number };
  readonly trigger: Record<string, unknown>;
  readonly event: unknown;
  /** Windowed definitions: the window's events and `window` (see core's `runVariables`). */
  readonly events?: readonly unknown[];
  readonly window?: Record<string, unknown>;
  /** RFC 3339: `now` in templates. */
  readonly now: string;
  /** Which attempt of the resolveContext activity this is (1 on the first); the run log records it. */
  readonly attempt: number;
}

/** The snapshot of one source as written to the run log (no secrets: see `scrubSecrets`). */
export interface SourceSnapshot {
  readonly name: string;
  readonly kind: ContextSource['kind'];
  readonly value: unknown;
  readonly detail?: Record<string, unknown>;
}

export interface ResolvedContext {
  readonly context: Record<string, unknown>;
  readonly snapshot: SourceSnapshot[];
  /** Secret values used; the caller scrubs them from anything it logs or returns. */
  readonly secrets: string[];
}

/**
 * Resolves every source in order. A value beyond the input limits (nested too deep, too large)
 * or holding what PostgreSQL cannot store (a NUL character, an unpaired surrogate) fails its
 * source for good: it would fail the run-log snapshot and every retry after it.
 */
export async function resolveContextSources(
  deps: ResolveContextDeps,
  input: ResolveContextInput,
  signal: AbortSignal,
): Promise<ResolvedContext> {
  const resolvers = contextSourceResolvers(deps);
  const context: Record<string, unknown> = {};
  const snapshot: SourceSnapshot[] = [];
  const secrets: string[] = [];
  const budget = expressionBudget(input.spec.limits.maxExpressionCost, deps.limits);
  // The spec's compiled form, shared with planTasks (one spec object per pinned version).
  const templates = () => {
    const result = compileStoredDefinition(input.spec, deps.limits);
    if (!result.ok) {
      throw new ContextSourceError('*', `definition does not compile: ${result.errors[0]?.message ?? ''}`, {
        retryable: false,
      });
    }
    return result.compiled.contextTemplates;
  };
  for (const source of input.spec.contextSources) {
    const vars = () => runVariables({ ...input, context });
    const scope: SourceScope = {
      definition: input.definition,
      trigger: input.trigger,
      event: input.event,
      context,
      render: () => {
        const value = templates().get(source.name);
        if (!value) return {};
        return renderCompiled(value, vars(), source.name, budget) as Record<string, unknown>;
      },
      signal,
      attempt: input.attempt,
    };
    const resolved = await resolveWith(resolvers, source.kind, source, scope);
    const problem = inspectJson(resolved.value, deps.limits?.input ?? DEFAULT_INPUT_LIMITS);
    if (problem) {
      throw new ContextSourceError(source.name, `value ${problem.path || '(root)'}: ${problem.message}`, {
        retryable: false,
      });
    }
    if (resolved.secrets) secrets.push(...resolved.secrets);
    context[source.name] = resolved.value;
    snapshot.push({
      name: source.name,
      kind: source.kind,
      value: resolved.value,
      ...(resolved.detail ? { detail: resolved.detail } : {}),
    });
  }
  return { context, snapshot, secrets };
}

/** Calls the resolver of `kind` (the kind and the source are correlated, which TypeScript checks here). */
function resolveWith<K extends ContextSourceKind>(
  resolvers: SourceResolvers,
  kind: K,
  source: SourceOfKind[K],
  scope: SourceScope,
): Promise<SourceResolution> {
  const resolver: SourceResolvers[K] | undefined = resolvers[kind];
  if (!resolver) {
    throw new ContextSourceError(source.name, `unknown context source kind ${JSON.stringify(kind)}`, {
      retryable: false,
    });
  }
  return resolver(source, scope);
}
