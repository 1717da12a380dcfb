import {
  type CelError,
  type CompiledExpression,
  compileExpression,
  estimateExpressionCost,
  evaluate,
  eventFilterEnvironment,
  formatCelError,
  toCelValue,
} from './cel.ts';
import { type CelIndexKey, type Conjunct, celIndexKey, splitConjuncts, withoutConjunct } from './cel-conjuncts.ts';
import { DEFAULT_EXPRESSION_LIMITS, type ExpressionLimits, expressionBudget, type InputLimits } from './cel-limits.ts';
import type { EventEnvelope } from './envelope.ts';
import { type EventTriggerConfig, matchesSourcePattern } from './event-trigger.ts';
import { compileWindowKey, evaluateWindowKey, WindowKeyErrorCode, type WindowKeyResult } from './event-window.ts';

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
  /**
   * A windowed definition: the event's window key, or why it has none (the expression failed,
   * or yielded no non-empty string). Absent for definitions without a window.
   */
  window?: WindowKeyResult;
}

/** A definition whose type and source accept the event but whose filter could not say yes or no. */
export interface FilterFailure extends Omit<MatchedDefinition, 'window'> {
  /** `budget` (over its cost budget), `evaluation` (a type error, a missing field…), `not_bool`, or a compile code. */
  code: CelError['code'] | 'not_bool';
  message: string;
}

export interface MatchOutcome {
  /** Definitions whose trigger accepts the envelope, in the order they were added. */
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

export interface MatcherOptions {
  /** The budget and input limits filters run under (default {@link DEFAULT_EXPRESSION_LIMITS}). */
  limits?: ExpressionLimits;
}

export interface EventMatcher {
  /**
   * Definitions whose trigger accepts the envelope, and those whose filter failed on it, both
   * in the order they were added. Each filter runs within its own budget, so a failing one
   * cannot change another's outcome.
   */
  match(envelope: EventEnvelope): MatchOutcome;
  /** One entry per definition, in the order they were added, saying which check said no. */
  explain(envelope: EventEnvelope): MatchExplanation[];
  /** Definitions whose filter does not compile; their events fail with the compile error. */
  readonly errors: ReadonlyArray<{ definitionId: string; message: string }>;
}

/** An {@link EventMatcher} that takes definition changes one at a time. */
export interface DefinitionMatcher extends EventMatcher {
  readonly size: number;
  /** Filter evaluations made so far (what the index saves shows here). */
  readonly evaluations: number;
  has(id: string): boolean;
  /**
   * Adds the definition, or replaces the one with its id (which keeps its place in the order).
   * Costs this definition's patterns and filter only, never the others'.
   */
  upsert(definition: MatchableDefinition): void;
  /** Removes the definition with this id; false when there was none. */
  remove(id: string): boolean;
}

type Compiled =
  | { readonly ok: true; readonly program: CompiledExpression }
  | { readonly ok: false; readonly code: CelError['code']; readonly message: string };

/** The equality conjunct an entry is keyed on: the event value at `path` must have one of `keys`. */
interface IndexPlan {
  readonly pathKey: string;
  readonly path: readonly string[];
  readonly keys: readonly CelIndexKey[];
  /** Some key is an int. */
  readonly numeric: boolean;
  /**
   * The most the conjunct itself can be charged when it holds (0 for the source pattern, which
   * is not part of the filter): a remainder that fits the budget less this is the whole
   * filter's answer, budget included.
   */
  readonly cost: number;
}

interface Placement {
  readonly node: TrieNode;
  readonly tail: boolean;
}

interface Entry {
  readonly definition: MatchableDefinition;
  readonly order: number;
  /** Cost units one evaluation of its filter may spend. */
  readonly budget: number;
  readonly index: IndexPlan | undefined;
  /** What must still hold once the indexed conjunct holds; undefined: nothing (or no filter). */
  readonly residual: string | undefined;
  readonly residualProgram: Compiled | undefined;
  /** The whole filter, compiled on first need: events the index cannot decide, and explain. */
  full: Compiled | undefined;
  /**
   * A windowed definition's key expression, compiled with the entry (so an upsert that changes
   * the key, or drops the window, replaces it); undefined for definitions without a window.
   */
  readonly windowKey: Compiled | undefined;
  readonly placements: Placement[];
  /** The last match() that collected this entry (dedupes definitions reached by two patterns). */
  stamp: number;
}

/** One entry or several, without a Set for the common case of one. */
type Entries = Entry | Set<Entry>;

function addEntry(into: Entries | undefined, entry: Entry): Entries {
  if (into === undefined) return entry;
  if (into instanceof Set) return into.add(entry);
  return new Set([into, entry]);
}

/** Removes `entry`; undefined when nothing is left. */
function deleteEntry(from: Entries | undefined, entry: Entry): Entries | undefined {
  if (from === undefined || from === entry) return undefined;
  if (!(from instanceof Set)) return from;
  from.delete(entry);
  if (from.size === 1) return from.values().next().value as Entry;
  return from.size === 0 ? undefined : from;
}

function forEachEntry(entries: Entries | undefined, fn: (entry: Entry) => void): void {
  if (entries === undefined) return;
  if (entries instanceof Set) for (const entry of entries) fn(entry);
  else fn(entries);
}

/** The definitions of one type-pattern node whose filters are keyed on one path. */
class PathIndex {
  readonly path: readonly string[];
  readonly all = new Set<Entry>();
  readonly byKey = new Map<CelIndexKey, Entries>();
  /** Entries with an int literal: a double may equal it. */
  readonly numeric = new Set<Entry>();
  constructor(path: readonly string[]) {
    this.path = path;
  }
}

/** The definitions whose type patterns end at one trie node. */
class Bucket {
  /** Entries without an indexed conjunct: candidates for every event reaching the bucket. */
  open: Entries | undefined;
  paths: Map<string, PathIndex> | undefined;

  add(entry: Entry): void {
    const index = entry.index;
    if (index === undefined) {
      this.open = addEntry(this.open, entry);
      return;
    }
    this.paths ??= new Map();
    let byPath = this.paths.get(index.pathKey);
    if (!byPath) {
      byPath = new PathIndex(index.path);
      this.paths.set(index.pathKey, byPath);
    }
    byPath.all.add(entry);
    if (index.numeric) byPath.numeric.add(entry);
    for (const key of index.keys) byPath.byKey.set(key, addEntry(byPath.byKey.get(key), entry));
  }

  delete(entry: Entry): void {
    const index = entry.index;
    if (index === undefined) {
      this.open = deleteEntry(this.open, entry);
      return;
    }
    const byPath = this.paths?.get(index.pathKey);
    if (!byPath) return;
    byPath.all.delete(entry);
    byPath.numeric.delete(entry);
    for (const key of index.keys) {
      const left = deleteEntry(byPath.byKey.get(key), entry);
      if (left === undefined) byPath.byKey.delete(key);
      else byPath.byKey.set(key, left);
    }
    if (byPath.all.size === 0) this.paths?.delete(index.pathKey);
    if (this.paths?.size === 0) this.paths = undefined;
  }

  get empty(): boolean {
    return this.open === undefined && this.paths === undefined;
  }
}

class TrieNode {
  readonly parent: TrieNode | undefined;
  readonly token: string | undefined;
  children: Map<string, TrieNode> | undefined;
  star: TrieNode | undefined;
  /** Patterns ending here. */
  exact: Bucket | undefined;
  /** Patterns ending in `>` after this node's prefix. */
  tail: Bucket | undefined;
  constructor(parent?: TrieNode, token?: string) {
    this.parent = parent;
    this.token = token;
  }
  get empty(): boolean {
    return (
      this.children === undefined && this.star === undefined && this.exact === undefined && this.tail === undefined
    );
  }
}

/** Filters compiled once per distinct source text and shared by the definitions that use it. */
class ProgramPool {
  readonly #programs = new Map<string, { compiled: Compiled; refs: number }>();
  readonly #input: InputLimits;

  constructor(input: InputLimits) {
    this.#input = input;
  }

  acquire(source: string): Compiled {
    let held = this.#programs.get(source);
    if (!held) {
      held = { compiled: compileFilter(source, this.#input), refs: 0 };
      this.#programs.set(source, held);
    }
    held.refs++;
    return held.compiled;
  }

  release(source: string): void {
    const held = this.#programs.get(source);
    if (held && --held.refs === 0) this.#programs.delete(source);
  }
}

/** Saved definitions were checked against their budget at save time; the run-time meter holds it now. */
function compileFilter(source: string, input: InputLimits): Compiled {
  const compiled = compileExpression(source, eventFilterEnvironment, { expect: ['bool'], input });
  return compiled.ok ? compiled : { ok: false, code: compiled.error.code, message: formatCelError(compiled.error) };
}

/** What one definition's checks said about an event; `cost` and `budget` when its filter ran. */
type Verdict = (
  | { readonly matched: true }
  | { readonly matched: false; readonly reason: 'source' | 'filter'; readonly detail: string }
  | {
      readonly matched: false;
      readonly reason: 'filter_error';
      readonly code: FilterFailure['code'];
      readonly detail: string;
    }
) & { readonly cost?: number; readonly budget?: number };

const MATCHED: Verdict = { matched: true };

/**
 * The one place where a definition's filter (or what is left of it after the index) runs on
 * an event, within `budget` cost units.
 */
function evaluateFilter(compiled: Compiled, celEvent: unknown, budget: number): Verdict {
  if (!compiled.ok) return { matched: false, reason: 'filter_error', code: compiled.code, detail: compiled.message };
  const result = evaluate(compiled.program, { event: celEvent }, { budget });
  const spent = { cost: result.cost, budget };
  if (!result.ok) {
    return {
      matched: false,
      reason: 'filter_error',
      code: result.error.code,
      detail: formatCelError(result.error),
      ...spent,
    };
  }
  if (typeof result.value !== 'boolean') {
    return {
      matched: false,
      reason: 'filter_error',
      code: 'not_bool',
      detail: 'filter did not yield a bool',
      ...spent,
    };
  }
  if (!result.value) return { matched: false, reason: 'filter', detail: 'filter returned false', ...spent };
  return { matched: true, ...spent };
}

/** Where the index looks for an entry's key: `event.data.tenant` → `data\u0000tenant`. */
function pathKeyOf(path: readonly string[]): string {
  return path.join('\u0000');
}

/** A key no literal has: the value at the path is equal to no literal (the conjunct is false). */
const NO_KEY: CelIndexKey = '\u0000';
/** A double: it may equal an int literal (`1.0 == 1`), never a string or a bool. */
const DOUBLE: CelIndexKey = '\u0000d';

/**
 * The value at `path` below the CEL event, as an index key:
 * - a string, int or bool: its key;
 * - a value that CEL's `==` finds equal to no string, int or bool literal (null, a list, a
 *   map, bytes: `==` across kinds is false, not an error): {@link NO_KEY}, the conjunct is
 *   false and so is the filter;
 * - a double: {@link DOUBLE}; definitions with an int literal evaluate their whole filter
 *   (`1.0 == 1` is true), the others cannot match;
 * - a field missing on the way, or a step into something that is not a map: undefined. The
 *   conjunct is an error there, and the filter is false only if another conjunct is false
 *   (`error && false` is false): the whole filter decides between "no" and `filter_error`.
 */
function resolveKey(celEvent: unknown, path: readonly string[]): CelIndexKey | undefined {
  let value = celEvent;
  for (const segment of path) {
    if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) {
      return undefined;
    }
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  if (typeof value === 'number') return DOUBLE;
  return celIndexKey(value) ?? NO_KEY;
}

const TYPE_PATH_KEY = pathKeyOf(['type']);

/**
 * Which conjunct to key a definition on, and what is left to evaluate. Candidates are the
 * filter's equality conjuncts and an exact (glob-free) `source` pattern; the choice prefers a
 * conjunct that is not on `event.type` (the type trie already tells types apart), then the one
 * with the fewest keys, then the first.
 *
 * A definition keyed on a conjunct is not evaluated at all for an event whose value equals none
 * of its literals: that is the plain evaluator's "no" only when the filter could not have
 * failed first. So conjuncts are candidates only when the whole filter's cost bound fits the
 * budget (as the save-time check made sure, unless the budget was lowered since), and with
 * `conjuncts: false` (the remainder does not compile) only the source pattern is.
 */
function planIndex(
  trigger: EventTriggerConfig,
  limits: { readonly input: InputLimits; readonly budget: number; readonly conjuncts: boolean },
): { index?: IndexPlan; residual?: string } {
  const { filter, source } = trigger;
  const split = filter === undefined || !limits.conjuncts ? undefined : splitConjuncts(filter, eventFilterEnvironment);
  const keyable =
    split !== undefined && estimateExpressionCost(split.ast, eventFilterEnvironment, limits.input) <= limits.budget;
  const conjuncts = keyable ? split.conjuncts : [];
  const options: Array<{ path: readonly string[]; keys: readonly CelIndexKey[]; conjunct?: Conjunct }> = [];
  for (const conjunct of conjuncts) if (conjunct.equality) options.push({ ...conjunct.equality, conjunct });
  if (source !== undefined && !source.includes('*')) {
    options.push({ path: ['source'], keys: [celIndexKey(source) as CelIndexKey] });
  }
  options.sort((a, b) => rank(a) - rank(b)); // stable: the first of equals stays first
  for (const option of options) {
    const index: IndexPlan = {
      pathKey: pathKeyOf(option.path),
      path: option.path,
      keys: option.keys,
      numeric: option.keys.some((k) => k.startsWith('i:')),
      cost: option.conjunct ? estimateExpressionCost(option.conjunct.ast, eventFilterEnvironment, limits.input) : 0,
    };
    if (filter === undefined) return { index };
    if (option.conjunct === undefined) return { index, residual: filter };
    if (conjuncts.length === 1) return { index };
    const residual = withoutConjunct(filter, option.conjunct, eventFilterEnvironment);
    if (residual !== undefined) return { index, residual };
  }
  return filter === undefined ? {} : { residual: filter };
}

function rank(option: { path: readonly string[]; keys: readonly CelIndexKey[] }): number {
  return (pathKeyOf(option.path) === TYPE_PATH_KEY ? 1e6 : 0) + option.keys.length;
}

/**
 * The event-triggered definitions, indexed for matching:
 *
 * - **Type patterns** in a token trie: an envelope walks only the branches its type can reach.
 * - **Equality conjuncts** of filters (`event.data.tenant == 'acme' && …`, `x in ['a', 'b']`,
 *   `x == 'a' || x == 'b'`, an exact `source` pattern): at each trie node, definitions are
 *   keyed by the literal(s) their conjunct compares with, so an event reaches only those whose
 *   conjunct holds for its value. Only they evaluate CEL, and only what is left of their filter
 *   once the conjunct holds (shared by definitions whose rest is the same text). An event
 *   without the field, or with a value no such literal equals (null, a list…), reaches none of
 *   them (their conjunct is false or an error, so their filter cannot be true); one whose value
 *   the index cannot compare (a double: `1.0 == 1`) evaluates their whole filters. The answer
 *   is always the plain evaluator's.
 *
 * Changes are incremental: `upsert` and `remove` touch one definition's trie nodes and keys.
 */
export function createDefinitionMatcher(
  definitions: readonly MatchableDefinition[] = [],
  options: MatcherOptions = {},
): DefinitionMatcher {
  const matcher = new IndexedMatcher(options.limits ?? DEFAULT_EXPRESSION_LIMITS);
  for (const definition of definitions) matcher.upsert(definition);
  return matcher;
}

/** A matcher over a fixed list of definitions (see {@link createDefinitionMatcher}). */
export function buildMatcher(definitions: readonly MatchableDefinition[], options: MatcherOptions = {}): EventMatcher {
  return createDefinitionMatcher(definitions, options);
}

class IndexedMatcher implements DefinitionMatcher {
  readonly #root = new TrieNode();
  readonly #entries = new Map<string, Entry>();
  readonly #errors = new Map<string, string>();
  readonly #limits: ExpressionLimits;
  readonly #pool: ProgramPool;
  #nextOrder = 0;
  #stamp = 0;
  #evaluations = 0;

  constructor(limits: ExpressionLimits) {
    this.#limits = limits;
    this.#pool = new ProgramPool(limits.input);
  }

  get size(): number {
    return this.#entries.size;
  }

  get evaluations(): number {
    return this.#evaluations;
  }

  get errors(): ReadonlyArray<{ definitionId: string; message: string }> {
    return [...this.#errors].map(([definitionId, message]) => ({ definitionId, message }));
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  upsert(definition: MatchableDefinition): void {
    const previous = this.#entries.get(definition.id);
    const budget = expressionBudget(definition.maxExpressionCost, this.#limits);
    const input = this.#limits.input;
    let { index, residual } = planIndex(definition.trigger, { input, budget, conjuncts: true });
    // Acquire before releasing the old entry's program, so an unchanged filter is not recompiled.
    let residualProgram = residual === undefined ? undefined : this.#pool.acquire(residual);
    if (residualProgram?.ok === false && residual !== definition.trigger.filter) {
      // A filter that does not compile fails on every event its type and source accept.
      this.#pool.release(residual as string);
      ({ index, residual } = planIndex(definition.trigger, { input, budget, conjuncts: false }));
      residualProgram = residual === undefined ? undefined : this.#pool.acquire(residual);
    }
    if (previous) this.#unplace(previous);
    const entry: Entry = {
      definition,
      order: previous?.order ?? this.#nextOrder++,
      budget,
      index,
      residual,
      residualProgram,
      full: undefined,
      windowKey: compileKey(definition.trigger, input),
      placements: [],
      stamp: 0,
    };
    for (const pattern of new Set(definition.trigger.types)) entry.placements.push(this.#place(pattern, entry));
    this.#entries.set(definition.id, entry);
    // The error of the filter as written (the remainder's positions are not the author's).
    const failed = residualProgram?.ok === false ? this.#whole(entry) : undefined;
    if (failed?.ok === false) this.#errors.set(definition.id, failed.message);
    else this.#errors.delete(definition.id);
  }

  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#unplace(entry);
    this.#entries.delete(id);
    this.#errors.delete(id);
    return true;
  }

  match(envelope: EventEnvelope): MatchOutcome {
    const stamp = ++this.#stamp;
    const found: Entry[] = [];
    /** Entries reached through a key their value did not decide: they evaluate the whole filter. */
    let undecided: Set<Entry> | undefined;
    let celEvent: unknown;
    let keys: Map<string, CelIndexKey | undefined> | undefined;
    const take = (entry: Entry) => {
      if (entry.stamp === stamp) return;
      entry.stamp = stamp;
      found.push(entry);
    };
    this.#walk(envelope.type, (bucket) => {
      forEachEntry(bucket.open, take);
      if (bucket.paths === undefined) return;
      celEvent ??= toCelValue(envelope);
      keys ??= new Map();
      for (const [pathKey, byPath] of bucket.paths) {
        let key = keys.get(pathKey);
        if (key === undefined && !keys.has(pathKey)) {
          key = resolveKey(celEvent, byPath.path);
          keys.set(pathKey, key);
        }
        if (key !== undefined && key !== DOUBLE) {
          forEachEntry(byPath.byKey.get(key), take);
        } else {
          undecided ??= new Set();
          for (const entry of key === DOUBLE ? byPath.numeric : byPath.all) {
            take(entry);
            undecided.add(entry);
          }
        }
      }
    });
    const outcome: MatchOutcome = { matched: [], failed: [] };
    if (found.length === 0) return outcome;
    if (found.length > 1) found.sort((a, b) => a.order - b.order);
    celEvent ??= toCelValue(envelope);
    for (const entry of found) {
      const verdict = undecided?.has(entry)
        ? this.#checkWhole(entry, envelope, celEvent)
        : this.#checkRest(entry, envelope, celEvent);
      const { id, version, key } = entry.definition;
      if (verdict.matched) {
        const window = entry.windowKey === undefined ? undefined : keyOf(entry.windowKey, celEvent, entry.budget);
        outcome.matched.push(window === undefined ? { id, version, key } : { id, version, key, window });
      } else if (verdict.reason === 'filter_error') {
        outcome.failed.push({ id, version, key, code: verdict.code, message: verdict.detail });
      }
    }
    return outcome;
  }

  explain(envelope: EventEnvelope): MatchExplanation[] {
    const reached = new Set<Entry>();
    this.#walk(envelope.type, (bucket) => {
      forEachEntry(bucket.open, (entry) => reached.add(entry));
      for (const byPath of bucket.paths?.values() ?? []) for (const entry of byPath.all) reached.add(entry);
    });
    const celEvent = toCelValue(envelope);
    const out: MatchExplanation[] = [];
    for (const entry of this.#entries.values()) {
      const definitionId = entry.definition.id;
      if (!reached.has(entry)) {
        const patterns = entry.definition.trigger.types.join(', ');
        out.push({
          definitionId,
          matched: false,
          reason: 'type',
          detail: `type ${envelope.type} matches none of ${patterns}`,
        });
        continue;
      }
      // The whole filter, as written: the same answer as the index, with the author's positions.
      out.push(explanation(definitionId, this.#checkWhole(entry, envelope, celEvent)));
    }
    return out;
  }

  /**
   * The source pattern, then what is left of the filter when the indexed conjunct holds. The
   * remainder runs within the budget less the most the conjunct can cost: what fits there is
   * the whole filter's answer (it would have fitted the whole budget too). A remainder that
   * fails, or does not fit, hands over to the whole filter, so that a failure, its code, its
   * message (with the author's positions) and a spent budget are the plain evaluator's.
   */
  #checkRest(entry: Entry, envelope: EventEnvelope, celEvent: unknown): Verdict {
    const source = checkSource(entry, envelope);
    if (source) return source;
    const conjunctCost = entry.index?.cost ?? 0;
    const filter = entry.definition.trigger.filter;
    const program = entry.residualProgram;
    if (program === undefined) {
      // The filter is the indexed conjunct alone (or there is none), and it holds.
      return filter === undefined || conjunctCost <= entry.budget
        ? MATCHED
        : this.#checkWhole(entry, envelope, celEvent);
    }
    if (entry.residual === filter) return this.#evaluate(program, celEvent, entry.budget);
    if (!program.ok || conjunctCost >= entry.budget) return this.#checkWhole(entry, envelope, celEvent);
    const verdict = this.#evaluate(program, celEvent, entry.budget - conjunctCost);
    if (verdict.matched || verdict.reason === 'filter') return verdict;
    return this.#checkWhole(entry, envelope, celEvent);
  }

  /** The source pattern, then the whole filter. */
  #checkWhole(entry: Entry, envelope: EventEnvelope, celEvent: unknown): Verdict {
    const source = checkSource(entry, envelope);
    if (source) return source;
    const whole = this.#whole(entry);
    return whole === undefined ? MATCHED : this.#evaluate(whole, celEvent, entry.budget);
  }

  /** The whole filter compiled (the remainder's program when that is the whole filter). */
  #whole(entry: Entry): Compiled | undefined {
    const filter = entry.definition.trigger.filter;
    if (filter === undefined) return undefined;
    if (entry.residual === filter && entry.residualProgram !== undefined) return entry.residualProgram;
    entry.full ??= compileFilter(filter, this.#limits.input);
    return entry.full;
  }

  #evaluate(compiled: Compiled, celEvent: unknown, budget: number): Verdict {
    this.#evaluations++;
    return evaluateFilter(compiled, celEvent, budget);
  }

  /** Calls `visit` with every bucket whose patterns the type matches. */
  #walk(type: string, visit: (bucket: Bucket) => void): void {
    const tokens = type.split('.');
    let frontier: TrieNode[] = [this.#root];
    for (let i = 0; i < tokens.length && frontier.length > 0; i++) {
      const next: TrieNode[] = [];
      const token = tokens[i] as string;
      for (const node of frontier) {
        if (node.tail) visit(node.tail);
        const child = node.children?.get(token);
        if (child) next.push(child);
        if (node.star) next.push(node.star);
      }
      frontier = next;
    }
    for (const node of frontier) if (node.exact) visit(node.exact);
  }

  #place(pattern: string, entry: Entry): Placement {
    let node = this.#root;
    const tokens = pattern.split('.');
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as string;
      if (token === '>') {
        node.tail ??= new Bucket();
        node.tail.add(entry);
        return { node, tail: true };
      }
      if (token === '*') {
        node.star ??= new TrieNode(node, '*');
        node = node.star;
      } else {
        node.children ??= new Map();
        let child = node.children.get(token);
        if (!child) {
          child = new TrieNode(node, token);
          node.children.set(token, child);
        }
        node = child;
      }
    }
    node.exact ??= new Bucket();
    node.exact.add(entry);
    return { node, tail: false };
  }

  #unplace(entry: Entry): void {
    for (const { node, tail } of entry.placements) {
      const bucket = tail ? node.tail : node.exact;
      bucket?.delete(entry);
      if (bucket?.empty) {
        if (tail) node.tail = undefined;
        else node.exact = undefined;
      }
      prune(node);
    }
    if (entry.residual !== undefined) this.#pool.release(entry.residual);
  }
}

/** A windowed trigger's key, compiled for the declared input limits (undefined without a window). */
function compileKey(trigger: EventTriggerConfig, input: InputLimits): Compiled | undefined {
  if (trigger.window === undefined) return undefined;
  const compiled = compileWindowKey(trigger.window.key, { input });
  if (compiled.ok) return compiled;
  return {
    ok: false,
    code: compiled.error.code,
    message: `the window key does not compile: ${formatCelError(compiled.error)}`,
  };
}

/** The event's window key, evaluated under the definition's budget (the filter has its own). */
function keyOf(compiled: Compiled, celEvent: unknown, budget: number): WindowKeyResult {
  if (!compiled.ok) return { ok: false, code: WindowKeyErrorCode.evaluation, message: compiled.message };
  return evaluateWindowKey(compiled.program, celEvent, { budget });
}

function explanation(definitionId: string, verdict: Verdict): MatchExplanation {
  const spent = verdict.cost === undefined ? {} : { cost: verdict.cost, budget: verdict.budget };
  if (verdict.matched) return { definitionId, matched: true, ...spent };
  const { reason, detail } = verdict;
  const code = verdict.reason === 'filter_error' ? { errorCode: verdict.code } : {};
  return { definitionId, matched: false, reason, ...code, detail, ...spent };
}

function checkSource(entry: Entry, envelope: EventEnvelope): Verdict | undefined {
  const pattern = entry.definition.trigger.source;
  if (pattern === undefined || matchesSourcePattern(pattern, envelope.source)) return undefined;
  return { matched: false, reason: 'source', detail: `source does not match ${pattern}` };
}

/** Drops trie nodes that no pattern uses any more, from `node` up. */
function prune(node: TrieNode): void {
  let current: TrieNode | undefined = node;
  while (current?.parent !== undefined && current.empty) {
    const parent: TrieNode = current.parent;
    if (current.token === '*' && parent.star === current) parent.star = undefined;
    else {
      parent.children?.delete(current.token as string);
      if (parent.children?.size === 0) parent.children = undefined;
    }
    current = parent;
  }
}
