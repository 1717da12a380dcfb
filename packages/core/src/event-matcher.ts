import {
  type CelError,
  type CompiledExpression,
  compileExpression,
  evaluate,
  eventFilterEnvironment,
  formatCelError,
  toCelValue,
} from './cel.ts';
import { DEFAULT_EXPRESSION_LIMITS, type ExpressionLimits, expressionBudget } from './cel-limits.ts';
import type { EventEnvelope } from './envelope.ts';
import { type EventTriggerConfig, matchesSourcePattern } from './event-trigger.ts';

export interface MatchableDefinition {
  id: string;
  version: number;
  key: string;
  trigger: EventTriggerConfig;
  /** The definition's `limits.maxExpressionCost`: its filter's budget (within the installation maximum). */
  maxExpressionCost?: number;
}

export interface MatchedDefinition {
  id: string;
  version: number;
  key: string;
}

/** A definition whose type and source accept the event but whose filter could not say yes or no. */
export interface FilterFailure extends MatchedDefinition {
  /** `budget` (over its cost budget), `evaluation` (a type error, a missing field…), `not_bool`, or a compile code. */
  code: CelError['code'] | 'not_bool';
  message: string;
}

export interface MatchOutcome {
  /** Definitions whose trigger accepts the envelope, in the order they were given. */
  matched: MatchedDefinition[];
  /** Definitions whose filter failed on this envelope: neither a match nor a "no". */
  failed: FilterFailure[];
}

export interface MatchExplanation {
  definitionId: string;
  matched: boolean;
  reason?: 'type' | 'source' | 'filter' | 'filter_error';
  /** With `filter_error`: why the filter failed (`budget`, `evaluation`, …). */
  errorCode?: FilterFailure['code'];
  detail?: string;
  /** Cost units the filter was charged, when it ran. */
  cost?: number;
  /** The budget it ran under. */
  budget?: number;
}

export interface EventMatcher {
  /**
   * Definitions whose trigger accepts the envelope, and those whose filter failed on it. Each
   * filter runs within its own budget, so a failing one cannot change another's outcome.
   */
  match(envelope: EventEnvelope): MatchOutcome;
  /** One entry per definition, saying which check said no. */
  explain(envelope: EventEnvelope): MatchExplanation[];
  /** Definitions whose filter does not compile; they never match. */
  readonly errors: ReadonlyArray<{ definitionId: string; message: string }>;
}

interface Entry {
  position: number;
  definition: MatchableDefinition;
  budget: number;
  filter?: CompiledExpression;
  filterError?: { code: CelError['code']; message: string };
}

class TrieNode {
  readonly children = new Map<string, TrieNode>();
  star?: TrieNode;
  /** Patterns ending here. */
  readonly exact = new Set<number>();
  /** Patterns ending in `>` after this node's prefix. */
  readonly tail = new Set<number>();
}

/**
 * Indexes event-triggered definitions by their type patterns in a token trie, so matching
 * an envelope walks only the branches its type can reach: definitions whose patterns cannot
 * match cost nothing. Source and filter checks run only on the type candidates.
 */
export function buildMatcher(
  definitions: readonly MatchableDefinition[],
  options: { limits?: ExpressionLimits } = {},
): EventMatcher {
  const limits = options.limits ?? DEFAULT_EXPRESSION_LIMITS;
  const root = new TrieNode();
  const entries: Entry[] = [];
  const errors: Array<{ definitionId: string; message: string }> = [];
  definitions.forEach((definition, position) => {
    const entry: Entry = { position, definition, budget: expressionBudget(definition.maxExpressionCost, limits) };
    if (definition.trigger.filter !== undefined) {
      // Saved definitions were checked against their budget; the run-time meter holds it now.
      const compiled = compileExpression(definition.trigger.filter, eventFilterEnvironment, {
        expect: ['bool'],
        input: limits.input,
      });
      if (compiled.ok) entry.filter = compiled.program;
      else {
        entry.filterError = { code: compiled.error.code, message: formatCelError(compiled.error) };
        errors.push({ definitionId: definition.id, message: entry.filterError.message });
      }
    }
    entries.push(entry);
    for (const pattern of definition.trigger.types) insert(root, pattern.split('.'), position);
  });

  function candidates(type: string): Set<number> {
    const found = new Set<number>();
    const tokens = type.split('.');
    let frontier: TrieNode[] = [root];
    for (let i = 0; i < tokens.length && frontier.length > 0; i++) {
      const next: TrieNode[] = [];
      for (const node of frontier) {
        for (const p of node.tail) found.add(p);
        const child = node.children.get(tokens[i] as string);
        if (child) next.push(child);
        if (node.star) next.push(node.star);
      }
      frontier = next;
    }
    for (const node of frontier) for (const p of node.exact) found.add(p);
    return found;
  }

  function check(entry: Entry, envelope: EventEnvelope, celEvent: unknown): MatchExplanation {
    const definitionId = entry.definition.id;
    const sourcePattern = entry.definition.trigger.source;
    if (sourcePattern !== undefined && !matchesSourcePattern(sourcePattern, envelope.source)) {
      return { definitionId, matched: false, reason: 'source', detail: `source does not match ${sourcePattern}` };
    }
    if (entry.filterError !== undefined) {
      const { code, message } = entry.filterError;
      return { definitionId, matched: false, reason: 'filter_error', errorCode: code, detail: message };
    }
    if (entry.filter) {
      const result = evaluate(entry.filter, { event: celEvent }, { budget: entry.budget });
      const spent = { cost: result.cost, budget: entry.budget };
      if (!result.ok) {
        const detail = formatCelError(result.error);
        return { definitionId, matched: false, reason: 'filter_error', errorCode: result.error.code, detail, ...spent };
      }
      if (typeof result.value !== 'boolean') {
        const detail = 'filter did not yield a bool';
        return { definitionId, matched: false, reason: 'filter_error', errorCode: 'not_bool', detail, ...spent };
      }
      if (!result.value) {
        return { definitionId, matched: false, reason: 'filter', detail: 'filter returned false', ...spent };
      }
      return { definitionId, matched: true, ...spent };
    }
    return { definitionId, matched: true };
  }

  return {
    errors,
    match(envelope) {
      const found = [...candidates(envelope.type)].sort((a, b) => a - b);
      const outcome: MatchOutcome = { matched: [], failed: [] };
      if (found.length === 0) return outcome;
      const celEvent = toCelValue(envelope);
      for (const position of found) {
        const entry = entries[position] as Entry;
        const checked = check(entry, envelope, celEvent);
        const { id, version, key } = entry.definition;
        if (checked.matched) outcome.matched.push({ id, version, key });
        else if (checked.reason === 'filter_error') {
          outcome.failed.push({
            id,
            version,
            key,
            code: checked.errorCode ?? 'evaluation',
            message: checked.detail ?? 'filter failed',
          });
        }
      }
      return outcome;
    },
    explain(envelope) {
      const found = candidates(envelope.type);
      const celEvent = toCelValue(envelope);
      return entries.map((entry) =>
        found.has(entry.position)
          ? check(entry, envelope, celEvent)
          : {
              definitionId: entry.definition.id,
              matched: false,
              reason: 'type' as const,
              detail: `type ${envelope.type} matches none of ${entry.definition.trigger.types.join(', ')}`,
            },
      );
    },
  };
}

function insert(root: TrieNode, tokens: string[], position: number): void {
  let node = root;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === '>') {
      node.tail.add(position);
      return;
    }
    if (token === '*') {
      node.star ??= new TrieNode();
      node = node.star;
    } else {
      let child = node.children.get(token);
      if (!child) {
        child = new TrieNode();
        node.children.set(token, child);
      }
      node = child;
    }
  }
  node.exact.add(position);
}
