import type { ContextSource } from '@activity-core/core';

/** Each context source kind's own schema, by kind: `SourceOfKind['http']` is the http source. */
export type SourceOfKind = { readonly [S in ContextSource as S['kind']]: S };
export type ContextSourceKind = ContextSource['kind'];

/** What the resolver of one source sees of the run. */
export interface SourceScope {
  readonly definition: { readonly id: string; readonly key: string; readonly version: number };
  readonly trigger: Readonly<Record<string, unknown>>;
  readonly event: unknown;
  /** Sources resolved so far (a later source may use an earlier one as `context.<name>`). */
  readonly context: Readonly<Record<string, unknown>>;
  /** The source's templated fields rendered against the run's variables; `{}` when it has none. */
  render(): Record<string, unknown>;
  readonly signal: AbortSignal;
  /** Which attempt of the resolveContext activity this is (1 on the first). */
  readonly attempt: number;
}

/** One resolved source: its value, what the run log records beside it, and secrets to scrub. */
export interface SourceResolution {
  readonly value: unknown;
  readonly detail?: Record<string, unknown>;
  /** Secret values the resolver used; scrubbed from everything logged or returned. */
  readonly secrets?: readonly string[];
}

export type SourceResolver<K extends ContextSourceKind> = (
  source: SourceOfKind[K],
  scope: SourceScope,
) => Promise<SourceResolution>;

/** One resolver per kind: a kind without one does not compile. */
export type SourceResolvers = { readonly [K in ContextSourceKind]: SourceResolver<K> };
