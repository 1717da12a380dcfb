import {
  type CompiledExpression,
  compileExpression,
  evaluate,
  eventFilterEnvironment,
  formatCelError,
  toCelValue,
} from './cel.ts';
import type { EventEnvelope } from './envelope.ts';
import { type EventTriggerConfig, matchesSourcePattern } from './event-trigger.ts';

export interface MatchableDefinition {
  id: string;
  version: number;
  key: string;
  trigger: EventTriggerConfig;
}

export interface MatchedDefinition {
  id: string;
  version: number;
  key: string;
}

export interface MatchExplanation {
  definitionId: string;
  matched: boolean;
  reason?: 'type' | 'source' | 'filter' | 'filter_error';
  detail?: string;
}

export interface EventMatcher {
  /** Definitions whose trigger accepts the envelope, in the order they were given. */
  match(envelope: EventEnvelope): MatchedDefinition[];
  /** One entry per definition, saying which check said no. */
  explain(envelope: EventEnvelope): MatchExplanation[];
  /** Definitions whose filter does not compile; they never match. */
  readonly errors: ReadonlyArray<{ definitionId: string; message: string }>;
}

interface Entry {
  position: number;
  definition: MatchableDefinition;
  filter?: CompiledExpression;
  filterError?: string;
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
export function buildMatcher(definitions: readonly MatchableDefinition[]): EventMatcher {
  const root = new TrieNode();
  const entries: Entry[] = [];
  const errors: Array<{ definitionId: string; message: string }> = [];
  definitions.forEach((definition, position) => {
    const entry: Entry = { position, definition };
    if (definition.trigger.filter !== undefined) {
      const compiled = compileExpression(definition.trigger.filter, eventFilterEnvironment, { expect: ['bool'] });
      if (compiled.ok) entry.filter = compiled.program;
      else {
        entry.filterError = formatCelError(compiled.error);
        errors.push({ definitionId: definition.id, message: entry.filterError });
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
      return { definitionId, matched: false, reason: 'filter_error', detail: entry.filterError };
    }
    if (entry.filter) {
      const result = evaluate(entry.filter, { event: celEvent });
      if (!result.ok)
        return { definitionId, matched: false, reason: 'filter_error', detail: formatCelError(result.error) };
      if (typeof result.value !== 'boolean') {
        return { definitionId, matched: false, reason: 'filter_error', detail: 'filter did not yield a bool' };
      }
      if (!result.value) return { definitionId, matched: false, reason: 'filter', detail: 'filter returned false' };
    }
    return { definitionId, matched: true };
  }

  return {
    errors,
    match(envelope) {
      const found = [...candidates(envelope.type)].sort((a, b) => a - b);
      if (found.length === 0) return [];
      const celEvent = toCelValue(envelope);
      const out: MatchedDefinition[] = [];
      for (const position of found) {
        const entry = entries[position] as Entry;
        if (check(entry, envelope, celEvent).matched) {
          const { id, version, key } = entry.definition;
          out.push({ id, version, key });
        }
      }
      return out;
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
