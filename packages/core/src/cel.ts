/**
 * The one expression language of activity-core: CEL, via `@marcbachmann/cel-js`.
 *
 * Why this library (compared with `@bufbuild/cel` 0.6.1, both installed and tried):
 * - **Save-time type checking.** cel-js has a public checker (`Environment.check`): unknown
 *   variables and impossible overloads (`1 + "a"`) are errors when a definition is saved.
 *   `@bufbuild/cel` 0.6 parses and plans, but its checker is not exported, so the same
 *   mistakes only surface at evaluation, which is what the architecture forbids.
 * - **Positions.** Parse and type errors carry a source range, so field errors can say
 *   "line 1, column 11". bufbuild reports positions for syntax errors only.
 * - **Pure and small.** Zero dependencies, ESM, no `eval`/`new Function` (checked), no
 *   protobuf registry; it runs unchanged in Temporal's workflow sandbox.
 *   bufbuild pulls `@bufbuild/protobuf`, `cel-spec` and an RE2 port.
 * - **Limits.** Parse-time structural limits (AST nodes, depth, literal sizes).
 *
 * What we give up: bufbuild runs the official conformance suite as its test bar; cel-js
 * covers "most of the spec" (macros, optionals, timestamps, durations, string functions).
 * The wrapper below keeps the choice swappable: nothing outside this file imports cel-js.
 *
 * Value mapping (both directions, see {@link toCelValue} / {@link fromCelValue}):
 * JSON integers become CEL `int` (so `event.data.count + 1` works), other numbers `double`;
 * objects are maps; `now` is a `timestamp`. Results come back as JSON: ints as numbers
 * (strings beyond 2^53), timestamps as ISO strings, durations as `"<n>s"`, bytes as base64.
 *
 * Cost: neither library meters evaluation, so the cost limit is a static estimate: every
 * AST node costs 1, and the body of a comprehension macro (`map`, `filter`, `all`,
 * `exists`, `exists_one`) is counted {@link COMPREHENSION_FACTOR} times per nesting level.
 */
import { type ASTNode, Environment } from '@marcbachmann/cel-js';
import { bytesToBase64 } from './bytes.ts';

/** Assumed list size when estimating the cost of a comprehension body. */
export const COMPREHENSION_FACTOR = 100;
/** Default static cost bound when a definition does not set `limits.maxExpressionCost`. */
export const DEFAULT_MAX_EXPRESSION_COST = 1_000_000;

/** CEL type names usable for variables. `map` and `dyn` are dynamically checked. */
export type CelVariableType = 'map' | 'dyn' | 'int' | 'string' | 'bool' | 'timestamp' | 'list';

/** A named set of variables an expression may use. Build once, share freely. */
export interface CelEnvironment {
  readonly name: string;
  readonly variables: Readonly<Record<string, CelVariableType>>;
  /** @internal */
  readonly impl: Environment;
}

const TYPE_NAMES: Record<CelVariableType, string> = {
  map: 'map',
  dyn: 'dyn',
  int: 'int',
  string: 'string',
  bool: 'bool',
  timestamp: 'google.protobuf.Timestamp',
  list: 'list',
};

/** Declares an environment; unknown variables in an expression are then type errors. */
export function celEnvironment(name: string, variables: Record<string, CelVariableType>): CelEnvironment {
  let impl = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: false,
    enableOptionalTypes: true,
    limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000, maxMapEntries: 1_000 },
  });
  for (const [variable, type] of Object.entries(variables)) impl = impl.registerVariable(variable, TYPE_NAMES[type]);
  return { name, variables: Object.freeze({ ...variables }), impl };
}

/** `event` only: filters of event triggers. */
export const eventFilterEnvironment = celEnvironment('eventFilter', { event: 'map' });
/** Rules and template `when`: `{ event, context, trigger, definition, now }`. */
export const ruleEnvironment = celEnvironment('rule', {
  event: 'map',
  context: 'map',
  trigger: 'map',
  definition: 'map',
  now: 'timestamp',
});
/** Template fields: the rule variables plus `item` and `index` of the current `forEach` element. */
export const templateEnvironment = celEnvironment('template', {
  event: 'map',
  context: 'map',
  trigger: 'map',
  definition: 'map',
  now: 'timestamp',
  item: 'dyn',
  index: 'int',
});

export interface CelPosition {
  /** 0-based offset into the source. */
  offset: number;
  /** 1-based line and column. */
  line: number;
  column: number;
}

export interface CelError {
  code: 'syntax' | 'type' | 'cost' | 'evaluation';
  message: string;
  position?: CelPosition;
}

/** A checked, ready-to-run expression. Plain data plus a closure; do not serialize. */
export interface CompiledExpression {
  readonly source: string;
  readonly environment: string;
  /** The checked result type, e.g. `bool`, `list<dyn>`, `dyn`. */
  readonly type: string;
  readonly cost: number;
  /** @internal */
  readonly run: (vars: Record<string, unknown>) => unknown;
}

export type CompileResult = { ok: true; program: CompiledExpression } | { ok: false; error: CelError };
export type EvaluateResult = { ok: true; value: unknown } | { ok: false; error: CelError };

export interface CompileOptions {
  maxCost?: number;
  /** Result types accepted, e.g. `['bool']` for rules; `dyn` always passes (checked at run time). */
  expect?: readonly string[];
}

/**
 * Parses and type-checks `source` against `env`. Never throws.
 *
 * @example compileExpression('event.type == "order.created"', eventFilterEnvironment)
 */
export function compileExpression(source: string, env: CelEnvironment, options: CompileOptions = {}): CompileResult {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.impl.parse(source);
  } catch (e) {
    return { ok: false, error: toCelError(e, source, 'syntax') };
  }
  let checked: ReturnType<typeof parsed.check>;
  try {
    checked = parsed.check();
  } catch (e) {
    return { ok: false, error: toCelError(e, source, 'type') };
  }
  if (!checked.valid) return { ok: false, error: toCelError(checked.error, source, 'type') };
  const type = checked.type ?? 'dyn';
  if (
    options.expect &&
    !type.startsWith('dyn') &&
    !options.expect.some((t) => type === t || type.startsWith(`${t}<`))
  ) {
    return {
      ok: false,
      error: { code: 'type', message: `expression has type ${type}, expected ${options.expect.join(' or ')}` },
    };
  }
  const cost = estimateCost(parsed.ast);
  const maxCost = options.maxCost ?? DEFAULT_MAX_EXPRESSION_COST;
  if (cost > maxCost) {
    return {
      ok: false,
      error: {
        code: 'cost',
        message: `estimated cost ${cost} exceeds the limit ${maxCost}`,
        position: position(source, 0),
      },
    };
  }
  return { ok: true, program: { source, environment: env.name, type, cost, run: (vars) => parsed(vars) } };
}

/** Runs a compiled expression. JSON inputs are converted with {@link toCelValue}. Never throws. */
export function evaluate(program: CompiledExpression, vars: Record<string, unknown>): EvaluateResult {
  try {
    return { ok: true, value: fromCelValue(program.run(vars)) };
  } catch (e) {
    return { ok: false, error: toCelError(e, program.source, 'evaluation') };
  }
}

const ITERATING_MACROS = new Set(['map', 'filter', 'all', 'exists', 'exists_one']);

function estimateCost(node: ASTNode): number {
  switch (node.op) {
    case 'value':
    case 'id':
      return 1;
    case 'rcall': {
      const [name, target, args] = node.args;
      const targetCost = estimateCost(target);
      const argsCost = args.reduce((sum, a) => sum + estimateCost(a), 0);
      return 1 + targetCost + (ITERATING_MACROS.has(name) ? COMPREHENSION_FACTOR * argsCost : argsCost);
    }
    case 'call':
      return 1 + node.args[1].reduce((sum, a) => sum + estimateCost(a), 0);
    case 'list':
      return 1 + node.args.reduce((sum, a) => sum + estimateCost(a), 0);
    case 'map':
      return 1 + node.args.reduce((sum, [k, v]) => sum + estimateCost(k) + estimateCost(v), 0);
    case '.':
    case '.?':
      return 1 + estimateCost(node.args[0]);
    case '!_':
    case '-_':
      return 1 + estimateCost(node.args);
    case '?:':
      return 1 + estimateCost(node.args[0]) + estimateCost(node.args[1]) + estimateCost(node.args[2]);
    default:
      return 1 + estimateCost(node.args[0]) + estimateCost(node.args[1]);
  }
}

function position(source: string, offset: number): CelPosition {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { offset, line, column };
}

function toCelError(e: unknown, source: string, fallback: CelError['code']): CelError {
  if (e instanceof Error) {
    const withRange = e as Error & { summary?: string; range?: { start: number }; node?: { pos?: number } };
    const message = withRange.summary ?? e.message.split('\n')[0] ?? e.message;
    const offset = withRange.range?.start ?? withRange.node?.pos;
    const code =
      e.name === 'ParseError' ? 'syntax' : e.name === 'TypeError' && fallback !== 'evaluation' ? 'type' : fallback;
    return typeof offset === 'number'
      ? { code, message, position: position(source, Math.min(Math.max(0, offset), source.length)) }
      : { code, message };
  }
  return { code: fallback, message: String(e) };
}

/** Formats a CEL error for a person: `message (line 1, column 9)`. */
export function formatCelError(error: CelError): string {
  return error.position
    ? `${error.message} (line ${error.position.line}, column ${error.position.column})`
    : error.message;
}

/** JSON value to CEL input: integral numbers become `int` (bigint); everything else is kept. */
export function toCelValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCelValue);
  if (value instanceof Date || value instanceof Uint8Array || value === null) return value;
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toCelValue(v);
    return out;
  }
  return value;
}

/** CEL output to a JSON-safe value. */
export function fromCelValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return bytesToBase64(value);
  if (Array.isArray(value)) return value.map(fromCelValue);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(fromCelValue(k))] = fromCelValue(v);
    return out;
  }
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  if (ctor !== undefined && ctor !== 'Object') {
    const seconds = (value as { seconds?: unknown }).seconds;
    if (ctor.includes('Duration') || (typeof seconds === 'number' && 'nanos' in value)) {
      const nanos = Number((value as { nanos?: unknown }).nanos ?? 0);
      return `${Number(seconds) + nanos / 1e9}s`;
    }
    if (typeof (value as { hasValue?: unknown }).hasValue === 'function') {
      const opt = value as { hasValue(): boolean; value(): unknown };
      return opt.hasValue() ? fromCelValue(opt.value()) : null;
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = fromCelValue(v);
  return out;
}
