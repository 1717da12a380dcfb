// Part of the CEL wrapper (with cel.ts): reads the AST of `@marcbachmann/cel-js`'s parser, so
// the definition index can key filters on their equality conjuncts without evaluating them.
import type { ASTNode } from '@marcbachmann/cel-js';
import type { CelEnvironment } from './cel.ts';

/**
 * A literal as an index key: `s:` + a string, `i:` + an int, `b:` + a bool. An event value has
 * a key only when it is of one of these kinds ({@link celIndexKey}), so two keys are equal
 * exactly when CEL's `==` on the two values is true.
 */
export type CelIndexKey = string;

/**
 * A conjunct that holds exactly when the value at `path` below `event` has one of `keys`
 * (`event.data.tenant == 'acme'`, `event.source in ['a', 'b']`, `x == 'a' || x == 'b'`).
 * For a value without a key (missing, a double, a list…) the conjunct may be false or an error:
 * then nothing is known and the whole filter must be evaluated.
 */
export interface EqualityConjunct {
  readonly path: readonly string[];
  readonly keys: readonly CelIndexKey[];
}

export interface Conjunct {
  /** The parser's source range of the conjunct (see {@link withoutConjunct}). */
  readonly start: number;
  readonly end: number;
  readonly equality?: EqualityConjunct;
  readonly ast: ASTNode;
}

/**
 * The top-level `&&` operands of a filter, in source order, each with its equality form when
 * it has one, and the filter's AST. `undefined` when the filter does not parse (compiling it
 * gives the error).
 *
 * CEL's `&&` is commutative with error absorption (`false && error` is false, `true && x` is x),
 * so a filter is true exactly when each conjunct is, and with one conjunct known to be true the
 * rest decides alone. Conjuncts inside macros, `!`, `?:` or calls are not looked into.
 */
export function splitConjuncts(
  source: string,
  env: CelEnvironment,
): { readonly ast: ASTNode; readonly conjuncts: Conjunct[] } | undefined {
  let ast: ASTNode;
  try {
    ast = env.impl.parse(source).ast;
  } catch {
    return undefined;
  }
  const out: Conjunct[] = [];
  // Iterative: the parser bounds depth, but a long `a && b && …` chain is left-deep.
  const stack: ASTNode[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop() as ASTNode;
    if (node.op === '&&') {
      stack.push(node.args[1], node.args[0]);
      continue;
    }
    const equality = equalityOf(node);
    out.push({ start: node.start, end: node.end, ast: node, ...(equality ? { equality } : {}) });
  }
  return { ast, conjuncts: out };
}

/**
 * The filter with one equality conjunct replaced by `true`: what is left to decide once that
 * conjunct is known to hold (filters that differ only in its literal give the same text). The
 * parser's ranges leave out the parentheses of a parenthesized first or last operand
 * (`(a) == 'x'` starts after the `(`), so the range is used only when its text alone parses
 * back to the same conjunct; otherwise undefined.
 */
export function withoutConjunct(source: string, conjunct: Conjunct, env: CelEnvironment): string | undefined {
  try {
    const text = source.slice(conjunct.start, conjunct.end);
    if (!sameConjunct(env.impl.parse(text).ast, conjunct.ast)) return undefined;
  } catch {
    return undefined;
  }
  return `${source.slice(0, conjunct.start)}true${source.slice(conjunct.end)}`;
}

/** Structural equality of two equality conjuncts (paths, literals, lists, `==`, `in`, `||`). */
function sameConjunct(a: ASTNode, b: ASTNode): boolean {
  if (a.op !== b.op) return false;
  switch (a.op) {
    case 'value':
      return a.args === b.args;
    case 'id':
      return a.args === b.args;
    case '.':
      return a.args[1] === (b.args as typeof a.args)[1] && sameConjunct(a.args[0], (b.args as typeof a.args)[0]);
    case 'list': {
      const other = b.args as typeof a.args;
      return a.args.length === other.length && a.args.every((x, i) => sameConjunct(x, other[i] as ASTNode));
    }
    case '==':
    case 'in':
    case '||':
    case '[]': {
      const other = b.args as typeof a.args;
      return sameConjunct(a.args[0], other[0]) && sameConjunct(a.args[1], other[1]);
    }
    default:
      return false;
  }
}

/**
 * The index key of a value as the filter sees it (after `toCelValue`): strings, ints (bigint)
 * and bools have one; anything else (missing, double, null, list, map, bytes) has none.
 */
export function celIndexKey(value: unknown): CelIndexKey | undefined {
  switch (typeof value) {
    case 'string':
      return `s:${value}`;
    case 'bigint':
      return `i:${value}`;
    case 'boolean':
      return `b:${value}`;
    default:
      return undefined;
  }
}

function equalityOf(node: ASTNode): EqualityConjunct | undefined {
  switch (node.op) {
    case '==': {
      const [left, right] = node.args;
      const path = pathOf(left) ?? pathOf(right);
      const key = pathOf(left) ? literalKey(right) : literalKey(left);
      return path && key !== undefined ? { path, keys: [key] } : undefined;
    }
    case 'in': {
      const [left, right] = node.args;
      const path = pathOf(left);
      if (!path || right.op !== 'list') return undefined;
      const keys: CelIndexKey[] = [];
      for (const element of right.args) {
        const key = literalKey(element);
        if (key === undefined) return undefined;
        keys.push(key);
      }
      return { path, keys: [...new Set(keys)] };
    }
    case '||': {
      const a = equalityOf(node.args[0]);
      const b = equalityOf(node.args[1]);
      if (!a || !b || !samePath(a.path, b.path)) return undefined;
      return { path: a.path, keys: [...new Set([...a.keys, ...b.keys])] };
    }
    default:
      return undefined;
  }
}

/** `event.a.b` or `event['a']['b']`: the field names below `event`, or undefined. */
function pathOf(node: ASTNode): string[] | undefined {
  const reversed: string[] = [];
  let current = node;
  for (;;) {
    if (current.op === 'id') return current.args === 'event' ? reversed.reverse() : undefined;
    if (current.op === '.') {
      reversed.push(current.args[1]);
      current = current.args[0];
    } else if (current.op === '[]' && current.args[1].op === 'value' && typeof current.args[1].args === 'string') {
      reversed.push(current.args[1].args);
      current = current.args[0];
    } else {
      return undefined;
    }
  }
}

/** String, int and bool literals; doubles are left out (`1 == 1.0` is true in CEL), as are uints, bytes and null. */
function literalKey(node: ASTNode): CelIndexKey | undefined {
  if (node.op !== 'value') return undefined;
  const value = node.args;
  return typeof value === 'string' || typeof value === 'bigint' || typeof value === 'boolean'
    ? celIndexKey(value)
    : undefined;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((segment, i) => segment === b[i]);
}
