/**
 * The cost model of CEL evaluation: one set of rules, applied to exact values by the run-time
 * {@link Meter} and to upper bounds by the save-time {@link estimateCost}, so the estimate is
 * never below what an evaluation within the declared input limits is charged.
 *
 * Units (deterministic, independent of machine load):
 * - every evaluated node costs 1: a literal, a variable, a field access, an operator, a call,
 *   and each node of a comprehension body once per element it runs for;
 * - a function or operator call also costs by its operands: strings and bytes 1 per
 *   {@link STRING_CHARS_PER_UNIT} characters, lists and maps 1 per element, nested ones counted
 *   in full where the operation walks them (`==`, `in`, most functions);
 * - `matches()` costs per character of its subject times the RE2 program size
 *   ({@link regexCostPerChar}), plus compiling a pattern that is not a literal.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { InputLimits } from './cel-limits.ts';
import { type CompiledPattern, compilePattern } from './cel-regex.ts';

export const STRING_CHARS_PER_UNIT = 10;
/** Instructions of an RE2 program a character is charged one unit for. */
export const REGEX_INSTRUCTIONS_PER_UNIT = 8;
/** Compiling a pattern at run time, per character of the pattern. */
export const REGEX_COMPILE_UNITS_PER_CHAR = 64;
/** Largest RE2 program a pattern of `n` characters can compile to (RE2 caps repetition at 1000). */
const MAX_PROGRAM_SIZE_PER_CHAR = 1_000;

/** Units charged per subject character by a pattern of `programSize` instructions. */
export function regexCostPerChar(programSize: number): number {
  return Math.ceil(programSize / REGEX_INSTRUCTIONS_PER_UNIT);
}

/** What the rules need to know of a value: exact at run time, an upper bound at save time. */
interface Measure<V> {
  /** Characters of a string or bytes, else 0. */
  chars(v: V): number;
  /** Elements of a list or keys of a map, else 0. */
  elems(v: V): number;
  /** Units to walk the whole value: {@link stringUnits} for text, 1 per element plus its own. */
  deep(v: V): number;
}

function stringUnits(chars: number): number {
  return Math.ceil(chars / STRING_CHARS_PER_UNIT);
}

/** Functions whose work does not grow with their arguments. */
const CONSTANT_FUNCTIONS = new Set([
  'dyn',
  'type',
  'int',
  'uint',
  'double',
  'bool',
  'duration',
  'timestamp',
  'of',
  'none',
  'value',
  'hasValue',
  'orValue',
  'or',
  'getDate',
  'getDayOfMonth',
  'getDayOfWeek',
  'getDayOfYear',
  'getFullYear',
  'getHours',
  'getMilliseconds',
  'getMinutes',
  'getMonth',
  'getSeconds',
]);

/** Functions defined on text only: they cost by the characters of their arguments. */
const TEXT_FUNCTIONS = new Set([
  'contains',
  'indexOf',
  'lastIndexOf',
  'lowerAscii',
  'upperAscii',
  'trim',
  'substring',
  'split',
  'charAt',
  'replace',
  'string',
  'bytes',
  'json',
  'hex',
  'base64',
  'size',
]);

/**
 * Units a call costs beyond its node, from its arguments (receiver first for `x.f(…)`).
 * `matches` is charged by its own handler, which knows the compiled program.
 */
function callCost<V>(name: string, args: readonly V[], m: Measure<V>): number {
  if (TEXT_FUNCTIONS.has(name)) {
    let units = 0;
    for (const arg of args) units += stringUnits(m.chars(arg));
    return units;
  }
  switch (name) {
    case 'matches':
      return 0;
    case 'startsWith':
    case 'endsWith':
      return args[1] === undefined ? 0 : stringUnits(m.chars(args[1]));
    case 'join': {
      const [list, separator] = args;
      if (list === undefined) return 0;
      return m.deep(list) + (separator === undefined ? 0 : m.elems(list) * stringUnits(m.chars(separator)));
    }
    default: {
      if (CONSTANT_FUNCTIONS.has(name)) return 0;
      let units = 0;
      for (const arg of args) units += m.deep(arg);
      return units;
    }
  }
}

/** Units a binary operator costs beyond its node, from its operands. */
function operatorCost<V>(op: string, left: V, right: V, m: Measure<V>): number {
  switch (op) {
    case '==':
    case '!=':
      return Math.min(m.deep(left), m.deep(right));
    case '<':
    case '<=':
    case '>':
    case '>=':
      return stringUnits(Math.min(m.chars(left), m.chars(right)));
    case '+':
      return stringUnits(m.chars(left) + m.chars(right)) + m.elems(left) + m.elems(right);
    case 'in': {
      const elements = m.elems(right);
      return elements + Math.min(m.deep(left) * elements, m.deep(right));
    }
    default:
      return 0;
  }
}

const deepCache = new WeakMap<object, number>();

/** Exact measures of run-time values. CEL values are never mutated, so walks are cached. */
const runtime: Measure<unknown> = {
  chars(v) {
    if (typeof v === 'string' || v instanceof Uint8Array) return v.length;
    return 0;
  },
  elems(v) {
    if (Array.isArray(v)) return v.length;
    if (v instanceof Map || v instanceof Set) return v.size;
    if (isPlainObject(v)) return Object.keys(v).length;
    return 0;
  },
  deep: deepUnits,
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function children(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  if (v instanceof Map) return [...v.values()];
  if (isPlainObject(v)) return Object.values(v);
  return undefined;
}

/** Walks without recursion, so a deeply nested input cannot overflow the stack. */
function deepUnits(root: unknown): number {
  if (typeof root === 'string' || root instanceof Uint8Array) return stringUnits(root.length);
  if (root === null || typeof root !== 'object') return 0;
  const cached = deepCache.get(root);
  if (cached !== undefined) return cached;
  if (children(root) === undefined) return 0;
  // Post-order: a node is summed once all its children are.
  const stack: Array<{ node: object; items: unknown[]; next: number; sum: number }> = [];
  let result = 0;
  const push = (node: object, items: unknown[]) => stack.push({ node, items, next: 0, sum: items.length });
  push(root, children(root) as unknown[]);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    if (frame.next < frame.items.length) {
      const child = frame.items[frame.next++];
      if (typeof child === 'string' || child instanceof Uint8Array) frame.sum += stringUnits(child.length);
      else if (child !== null && typeof child === 'object') {
        const known = deepCache.get(child);
        if (known !== undefined) frame.sum += known;
        else {
          const items = children(child);
          if (items !== undefined) push(child, items);
        }
      }
      continue;
    }
    stack.pop();
    deepCache.set(frame.node, frame.sum);
    const parent = stack[stack.length - 1];
    if (parent) parent.sum += frame.sum;
    else result = frame.sum;
  }
  return result;
}

/** Thrown inside the evaluator when the budget is spent; the evaluation reports it, whatever CEL did with it. */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
}

interface MeteredNode {
  readonly op: string;
  readonly args: unknown;
}

/**
 * The run-time meter handed to the (patched) cel-js evaluator: it decrements `remaining` once
 * per node and charges each call and operator before it runs. Once spent it stays spent, so an
 * error that `||` or a quantifier would otherwise absorb is raised again at the next node.
 */
export class Meter {
  remaining: number;
  readonly budget: number;
  /** Literal patterns of the running expression, compiled when it was compiled. */
  readonly patterns: ReadonlyMap<string, CompiledPattern>;
  #exceeded = false;

  constructor(budget: number, patterns: ReadonlyMap<string, CompiledPattern> = new Map()) {
    this.budget = budget;
    this.remaining = budget;
    this.patterns = patterns;
  }

  get exceeded(): boolean {
    return this.#exceeded;
  }

  /** Units spent so far (at most the budget plus the one charge that overran it). */
  get used(): number {
    return this.#exceeded ? this.budget + 1 : this.budget - this.remaining;
  }

  exhausted(): never {
    this.#exceeded = true;
    this.remaining = Number.NEGATIVE_INFINITY;
    throw new BudgetExceededError(`evaluation exceeded its budget of ${this.budget} cost units`);
  }

  charge(units: number): void {
    if (units <= 0) return;
    this.remaining -= units;
    if (this.remaining < 0) this.exhausted();
  }

  call(node: MeteredNode, args: readonly unknown[]): void {
    const name = (node.args as [string])[0];
    this.charge(callCost(name, args, runtime));
  }

  binary(node: MeteredNode, left: unknown, right: unknown): void {
    if (typeof left !== 'object' && typeof right !== 'object' && typeof left !== 'string') return;
    this.charge(operatorCost(node.op, left, right, runtime));
  }
}

/** Upper bounds of a value's measures, and of its elements' (lists) or values' (maps). */
interface Bound {
  readonly chars: number;
  readonly elems: number;
  readonly deep: number;
  readonly element?: Bound;
}

const SCALAR: Bound = { chars: 0, elems: 0, deep: 0 };

const bounds: Measure<Bound> = {
  chars: (b) => b.chars,
  elems: (b) => b.elems,
  deep: (b) => b.deep,
};

function join(a: Bound, b: Bound): Bound {
  if (a === b) return a;
  const element = a.element && b.element ? join(a.element, b.element) : (a.element ?? b.element);
  return {
    chars: Math.max(a.chars, b.chars),
    elems: Math.max(a.elems, b.elems),
    deep: Math.max(a.deep, b.deep),
    ...(element ? { element } : {}),
  };
}

function elementOf(b: Bound): Bound {
  return b.element ?? SCALAR;
}

/** Any value within the input limits: the event, the context, `item`. Its parts are bounded alike. */
export function inputBound(limits: InputLimits): Bound {
  // As JSON text of n bytes, a value has at most n/2 elements (`[1,1,…]`) and walking it costs
  // at most n/2 + 1 units (`["a","a",…]`: two units per four bytes).
  const bound: { chars: number; elems: number; deep: number; element?: Bound } = {
    chars: limits.maxBytes,
    elems: Math.min(limits.maxListElements, Math.ceil(limits.maxBytes / 2)),
    deep: Math.ceil(limits.maxBytes / 2) + 1,
  };
  bound.element = bound;
  return bound;
}

function literalBound(value: unknown): Bound {
  if (typeof value === 'string' || value instanceof Uint8Array) {
    return { chars: value.length, elems: 0, deep: stringUnits(value.length) };
  }
  return SCALAR;
}

export interface EstimateInput {
  /** Bounds of the environment's variables; unlisted ones are scalars (`now`, `index`). */
  readonly variables: Readonly<Record<string, Bound>>;
}

export type { Bound as ValueBound };

/** Units a call of `matches` is charged at run time, from the subject, the pattern and whether it is a literal. */
export function matchesCost(subjectChars: number, pattern: CompiledPattern | undefined, patternChars: number): number {
  const compile = pattern ? 0 : patternChars * REGEX_COMPILE_UNITS_PER_CHAR;
  const programSize = pattern ? pattern.programSize : patternChars * MAX_PROGRAM_SIZE_PER_CHAR + 2;
  return compile + subjectChars * regexCostPerChar(programSize);
}

const ITERATING_MACROS = new Set(['map', 'filter', 'all', 'exists', 'exists_one']);

/**
 * The most an evaluation of `ast` can be charged when every input is within its bound.
 * Mirrors the evaluator node by node (macros included) and the rules above.
 */
export function estimateCost(ast: ASTNode, input: EstimateInput): number {
  return estimate(ast, new Map(Object.entries(input.variables))).cost;
}

interface Estimate {
  cost: number;
  bound: Bound;
}

function sum(values: readonly Estimate[]): number {
  let total = 0;
  for (const v of values) total += v.cost;
  return total;
}

function estimate(node: ASTNode, scope: ReadonlyMap<string, Bound>): Estimate {
  switch (node.op) {
    case 'value':
      return { cost: 1, bound: literalBound(node.args) };
    case 'id':
      return { cost: 1, bound: scope.get(node.args) ?? SCALAR };
    case '.':
    case '.?': {
      const target = estimate(node.args[0], scope);
      return { cost: 1 + target.cost, bound: elementOf(target.bound) };
    }
    case '[]':
    case '[?]': {
      const target = estimate(node.args[0], scope);
      const index = estimate(node.args[1], scope);
      return { cost: 1 + target.cost + index.cost, bound: elementOf(target.bound) };
    }
    case '!_':
    case '-_': {
      const operand = estimate(node.args, scope);
      return { cost: 1 + operand.cost, bound: SCALAR };
    }
    case '?:': {
      const [condition, left, right] = node.args.map((a) => estimate(a, scope)) as [Estimate, Estimate, Estimate];
      return { cost: 1 + condition.cost + Math.max(left.cost, right.cost), bound: join(left.bound, right.bound) };
    }
    case '||':
    case '&&': {
      const parts = node.args.map((a) => estimate(a, scope));
      return { cost: 1 + sum(parts), bound: SCALAR };
    }
    case 'list': {
      const items = node.args.map((a) => estimate(a, scope));
      let element: Bound | undefined;
      let deep = items.length;
      for (const item of items) {
        element = element ? join(element, item.bound) : item.bound;
        deep += item.bound.deep;
      }
      return {
        cost: 1 + sum(items),
        bound: { chars: 0, elems: items.length, deep, ...(element ? { element } : {}) },
      };
    }
    case 'map': {
      let cost = 1;
      let element: Bound | undefined;
      let deep = node.args.length;
      for (const [k, v] of node.args) {
        const key = estimate(k, scope);
        const value = estimate(v, scope);
        cost += key.cost + value.cost;
        // Comprehensions over a map bind its keys, field access yields its values.
        const entry = join(key.bound, value.bound);
        element = element ? join(element, entry) : entry;
        deep += value.bound.deep;
      }
      return { cost, bound: { chars: 0, elems: node.args.length, deep, ...(element ? { element } : {}) } };
    }
    case 'call':
      return estimateCall(node.args[0], undefined, node.args[1], scope);
    case 'rcall':
      return estimateCall(node.args[0], node.args[1], node.args[2], scope);
    default: {
      const [l, r] = node.args;
      const left = estimate(l, scope);
      const right = estimate(r, scope);
      const cost = 1 + left.cost + right.cost + operatorCost(node.op, left.bound, right.bound, bounds);
      return { cost, bound: operatorResult(node.op, left.bound, right.bound) };
    }
  }
}

function operatorResult(op: string, left: Bound, right: Bound): Bound {
  if (op !== '+') return SCALAR;
  const element = left.element && right.element ? join(left.element, right.element) : (left.element ?? right.element);
  return {
    chars: left.chars + right.chars,
    elems: left.elems + right.elems,
    deep: left.deep + right.deep,
    ...(element ? { element } : {}),
  };
}

function identifier(node: ASTNode | undefined): string | undefined {
  return node?.op === 'id' ? node.args : undefined;
}

function estimateCall(
  name: string,
  receiverNode: ASTNode | undefined,
  argNodes: readonly ASTNode[],
  scope: ReadonlyMap<string, Bound>,
): Estimate {
  if (receiverNode && ITERATING_MACROS.has(name)) {
    const range = estimate(receiverNode, scope);
    const variable = identifier(argNodes[0]);
    const inner = new Map(scope);
    if (variable !== undefined) inner.set(variable, elementOf(range.bound));
    const body = argNodes.slice(1).map((a) => estimate(a, inner));
    // Per element: the body's nodes plus at most three of the macro's own (step, branch, push).
    const perElement = sum(body) + 3;
    const elements = range.bound.elems;
    const cost = 2 + range.cost + elements * perElement;
    const last = body[body.length - 1];
    if (name === 'map' && last) {
      return {
        cost,
        bound: { chars: 0, elems: elements, deep: elements * (1 + last.bound.deep), element: last.bound },
      };
    }
    if (name === 'filter') return { cost, bound: range.bound };
    return { cost, bound: SCALAR };
  }
  if (name === 'has' && !receiverNode) {
    // The macro evaluates only the variable at the root of the selection, then walks fields.
    return { cost: 2, bound: SCALAR };
  }
  if (name === 'bind' && receiverNode?.op === 'id' && receiverNode.args === 'cel') {
    // cel.bind(v, value, body): the value once, then the body with v bound to it.
    const value = argNodes[1] ? estimate(argNodes[1], scope) : { cost: 0, bound: SCALAR };
    const variable = identifier(argNodes[0]);
    const inner = new Map(scope);
    if (variable !== undefined) inner.set(variable, value.bound);
    const body = argNodes[2] ? estimate(argNodes[2], inner) : { cost: 0, bound: SCALAR };
    return { cost: 1 + value.cost + body.cost, bound: body.bound };
  }
  const parts = [...(receiverNode ? [receiverNode] : []), ...argNodes].map((a) => estimate(a, scope));
  const operands = parts.map((p) => p.bound);
  let cost = 1 + sum(parts) + callCost(name, operands, bounds);
  if (name === 'matches') {
    const [subject, patternBound] = operands;
    const patternNode = argNodes[receiverNode ? 0 : 1];
    const literal =
      patternNode?.op === 'value' && typeof patternNode.args === 'string'
        ? compilePattern(patternNode.args)
        : undefined;
    cost += matchesCost(subject?.chars ?? 0, literal?.ok ? literal.compiled : undefined, patternBound?.chars ?? 0);
  }
  return { cost, bound: callResult(name, operands) };
}

function callResult(name: string, operands: readonly Bound[]): Bound {
  const [first = SCALAR, second = SCALAR] = operands;
  switch (name) {
    case 'matches':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
    case 'size':
    case 'indexOf':
    case 'lastIndexOf':
    case 'int':
    case 'uint':
    case 'double':
    case 'bool':
    case 'duration':
    case 'timestamp':
    case 'type':
    case 'hasValue':
      return SCALAR;
    case 'split': {
      const piece = { chars: first.chars, elems: 0, deep: stringUnits(first.chars) };
      return { chars: 0, elems: first.chars + 1, deep: first.chars + 1 + piece.deep, element: piece };
    }
    case 'join': {
      const element = elementOf(first);
      const chars = first.elems * (element.chars + second.chars);
      return { chars, elems: 0, deep: stringUnits(chars) };
    }
    case 'json':
      return { chars: first.chars, elems: first.chars, deep: first.chars, element: inputLike(first.chars) };
    default: {
      // Functions return their arguments, parts of them or text built from them.
      let result = SCALAR;
      for (const operand of operands) result = join(result, operand);
      return result;
    }
  }
}

function inputLike(chars: number): Bound {
  const bound: { chars: number; elems: number; deep: number; element?: Bound } = { chars, elems: chars, deep: chars };
  bound.element = bound;
  return bound;
}
