// The specs of pinned definition versions, parsed and validated once per worker. A version is
// immutable (definition_versions rows are never updated), so its checked spec, or why it is
// invalid, is the same for every run that pins it. One spec object per version also lets the
// core keep its compiled CEL programs and templates (planTasks caches them per spec object).
import { type ExpressionLimits, type ValidateDefinitionResult, validateDefinitionSpec } from '@activity-core/core';
import { CorruptRowError } from '@activity-core/db';

/** Versions kept (least recently used first out): each holds a spec and its compiled programs. */
export const DEFAULT_PINNED_SPEC_CACHE_SIZE = 256;

/** A pinned version as a run uses it: its validated spec, or the reasons it does not validate. */
export type PinnedSpec = ValidateDefinitionResult | { readonly ok: false; readonly unreadable: string };

export interface PinnedSpecs {
  /** The version's checked spec; a miss reads the version row. Database errors are thrown (retryable). */
  get(definitionId: string, version: number): Promise<PinnedSpec>;
  readonly size: number;
}

export interface PinnedSpecsOptions {
  /** Reads a version's stored spec (`getDefinitionVersion`); throws `CorruptRowError` for an unreadable row. */
  readonly load: (definitionId: string, version: number) => Promise<unknown>;
  readonly limits?: ExpressionLimits;
  /** Default {@link DEFAULT_PINNED_SPEC_CACHE_SIZE}. */
  readonly maxEntries?: number;
}

export function createPinnedSpecs(options: PinnedSpecsOptions): PinnedSpecs {
  const maxEntries = options.maxEntries ?? DEFAULT_PINNED_SPEC_CACHE_SIZE;
  const limitsOption = options.limits ? { limits: options.limits } : {};
  // Promises, so concurrent first runs of a version read and validate it once.
  const entries = new Map<string, Promise<PinnedSpec>>();

  const load = async (definitionId: string, version: number): Promise<PinnedSpec> => {
    let stored: unknown;
    try {
      stored = await options.load(definitionId, version);
    } catch (error) {
      if (error instanceof CorruptRowError) return { ok: false, unreadable: error.message };
      throw error;
    }
    // As saved: a definition that passed the checks of its day keeps running after an upgrade;
    // the run-time budget holds it now.
    return validateDefinitionSpec(stored, { stored: true, ...limitsOption });
  };

  return {
    get(definitionId, version) {
      const key = `${definitionId}@${version}`;
      const hit = entries.get(key);
      if (hit !== undefined) {
        entries.delete(key);
        entries.set(key, hit);
        return hit;
      }
      const loading = load(definitionId, version);
      entries.set(key, loading);
      // A failed read (database down) is not an answer: the next run reads again.
      loading.catch(() => {
        if (entries.get(key) === loading) entries.delete(key);
      });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
      return loading;
    },
    get size() {
      return entries.size;
    },
  };
}

/** Why a pinned version cannot run, as the run's `InvalidDefinition` failure says it. */
export function pinnedSpecError(definitionKey: string, version: number, pinned: PinnedSpec): string | undefined {
  if (pinned.ok) return undefined;
  if ('unreadable' in pinned)
    return `definition ${definitionKey} version ${version} is unreadable: ${pinned.unreadable}`;
  return `definition ${definitionKey} version ${version} is invalid: ${pinned.errors
    .map((e) => `${e.path}: ${e.message}`)
    .join('; ')}`;
}
