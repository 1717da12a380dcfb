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
 * Bounds (see `cel-cost.ts` for the units, `cel-limits.ts` for the defaults):
 * - `matches()` is RE2 (`cel-regex.ts`), never JavaScript's backtracking `RegExp`; literal
 *   patterns are compiled when the expression is, an invalid one is a compile error.
 * - Every evaluation runs under a budget of cost units, metered node by node through a small
 *   patch of cel-js (`patches/@marcbachmann__cel-js@8.0.0.patch`: the library has no hook);
 *   over budget is an error with code `budget`.
 * - At compile time the same cost rules give an upper bound for inputs within the declared
 *   input limits; above the budget it is a compile error with code `cost`.
 */
import { type ASTNode, Environment } from '@marcbachmann/cel-js';
import { bytesToBase64 } from './bytes.ts';
import {
  BudgetExceededError,
  estimateCost,
  inputBound,
  Meter,
  matchesCost,
  STRING_CHARS_PER_UNIT,
  type ValueBound,
} from './cel-cost.ts';
import { DEFAULT_EXPRESSION_COST, DEFAULT_INPUT_LIMITS, type InputLimits } from './cel-limits.ts';
import { type CompiledPattern, compilePattern, dynamicPattern, InvalidPatternError } from './cel-regex.ts';
import { displayText, setOwn } from './input-limits.ts';

/** CEL type names usable for variables. `map` and `dyn` are dynamically checked. */
export type CelVariableType = 'map' | 'dyn' | 'int' | 'string' | 'bool' | 'timestamp' | 'list';

/** A named set of variables an expression may use. Build once, share freely. */
export interface CelEnvironment {
  readonly name: string;
  readonly variables: Readonly<Record<string, CelVariableType>>;
  /** @internal */
  readonly impl: Environment;
  /**
   * @internal The same variables with `event` typed as a CloudEvent envelope (`event.id` is a
   * string, `event.causationdepth` an int, `event.data` dyn): what save-time checks type against.
   */
  readonly strictImpl: Environment;
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

/**
 * The fields of the `event` variable as save-time checks see them: the attributes of an
 * EventEnvelope. At run time `event` stays a map, so an expression means the same whether it
 * was saved before or after these checks existed.
 */
const EVENT_FIELDS: Record<string, string> = {
  specversion: 'string',
  id: 'string',
  source: 'string',
  type: 'string',
  time: 'string',
  subject: 'string',
  datacontenttype: 'string',
  dataschema: 'string',
  data: 'dyn',
  data_base64: 'string',
  traceparent: 'string',
  tracestate: 'string',
  correlationid: 'string',
  causationid: 'string',
  causationdepth: 'int',
  extensions: 'map',
  delivery: 'map',
};
const EVENT_TYPE = 'activitycore.Event';

function newEnvironment(): Environment {
  const impl = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: false,
    enableOptionalTypes: true,
    limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000, maxMapEntries: 1_000 },
  });
  impl.registerFunction('string.matches(string): bool', re2Matches, { async: false });
  impl.registerFunction('matches(string, string): bool', re2Matches, { async: false });
  return impl;
}

/** Declares an environment; unknown variables in an expression are then type errors. */
export function celEnvironment(name: string, variables: Record<string, CelVariableType>): CelEnvironment {
  let impl = newEnvironment();
  let strictImpl = newEnvironment().registerType(EVENT_TYPE, { fields: EVENT_FIELDS });
  for (const [variable, type] of Object.entries(variables)) {
    impl = impl.registerVariable(variable, TYPE_NAMES[type]);
    strictImpl = strictImpl.registerVariable(variable, variable === 'event' ? EVENT_TYPE : TYPE_NAMES[type]);
  }
  return { name, variables: Object.freeze({ ...variables }), impl, strictImpl };
}

/** `matches()` by RE2; `this` is the evaluator, which carries the meter of the evaluation. */
function re2Matches(this: { meter: Meter | null }, subject: string, pattern: string): boolean {
  const meter = this.meter;
  let compiled = meter?.patterns.get(pattern);
  if (!compiled) {
    // Charge the compilation before doing it, so a huge pattern cannot run unbudgeted.
    meter?.charge(matchesCost(0, undefined, pattern.length));
    compiled = dynamicPattern(pattern);
  }
  meter?.charge(matchesCost(subject.length, compiled, pattern.length));
  return compiled.regex.test(subject);
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
/**
 * Rules and `forEach` of a definition with an event window: the rule variables plus `events`
 * (the window's events in arrival order; `event` is the last) and `window` (`key`, `mode`,
 * `opened`, `closed`, `count`, `reason`, `dropped`).
 */
export const windowRuleEnvironment = celEnvironment('windowRule', {
  ...ruleEnvironment.variables,
  events: 'list',
  window: 'map',
});
/** Template fields of a definition with an event window: {@link windowRuleEnvironment} plus `item` and `index`. */
export const windowTemplateEnvironment = celEnvironment('windowTemplate', {
  ...templateEnvironment.variables,
  events: 'list',
  window: 'map',
});

export interface CelPosition {
  /** 0-based offset into the source. */
  offset: number;
  /** 1-based line and column. */
  line: number;
  column: number;
}

export interface CelError {
  /**
   * `syntax`, `type`, `regex` (a literal pattern RE2 refuses) and `cost` (the estimate exceeds
   * the budget) at compile time; `evaluation` and `budget` (the budget ran out) at run time.
   */
  code: 'syntax' | 'type' | 'regex' | 'cost' | 'evaluation' | 'budget';
  message: string;
  position?: CelPosition;
}

/** A checked, ready-to-run expression. Plain data plus a closure; do not serialize. */
export interface CompiledExpression {
  readonly source: string;
  readonly environment: string;
  /** The checked result type, e.g. `bool`, `list<dyn>`, `dyn`. */
  readonly type: string;
  /** Most cost units an evaluation can take with inputs within the input limits it was compiled for. */
  readonly cost: number;
  /** @internal Literal `matches()` patterns, compiled with the expression. */
  readonly patterns: ReadonlyMap<string, CompiledPattern>;
  /** @internal */
  readonly run: (vars: Record<string, unknown>, meter: Meter) => unknown;
}

export type CompileResult = { ok: true; program: CompiledExpression } | { ok: false; error: CelError };
/** `cost` is what the evaluation was charged, in cost units. */
export type EvaluateResult = { ok: true; value: unknown; cost: number } | { ok: false; error: CelError; cost: number };

export interface CompileOptions {
  /** The budget the expression will run under: a larger estimate is a `cost` error. Unset: not checked. */
  maxCost?: number;
  /** Limits the inputs are assumed to be within when estimating (default {@link DEFAULT_INPUT_LIMITS}). */
  input?: InputLimits;
  /** Result types accepted, e.g. `['bool']` for rules; `dyn` always passes (checked at run time). */
  expect?: readonly string[];
  /** How the accepted types read in an error, e.g. `a value that renders as text`. */
  expectDescription?: string;
  /**
   * Save-time checking: type the expression with `event` as a CloudEvent envelope (so
   * `event.id` is a string and `event.nosuch` an error) before checking `expect`. Stored
   * definitions compile without it, so ones saved before these checks keep running.
   */
  strict?: boolean;
}

export interface EvaluateOptions {
  /** Cost units this evaluation may spend (default {@link DEFAULT_EXPRESSION_COST}). */
  budget?: number;
}

const SCALAR_BOUND: ValueBound = { chars: 0, elems: 0, deep: 0 };

function variableBounds(env: CelEnvironment, input: InputLimits): Record<string, ValueBound> {
  const any = inputBound(input);
  const text: ValueBound = {
    chars: input.maxBytes,
    elems: 0,
    deep: Math.ceil(input.maxBytes / STRING_CHARS_PER_UNIT),
  };
  const out: Record<string, ValueBound> = {};
  for (const [name, type] of Object.entries(env.variables)) {
    out[name] =
      type === 'string' ? text : type === 'int' || type === 'bool' || type === 'timestamp' ? SCALAR_BOUND : any;
  }
  return out;
}

/** CEL types whose values render as text in a template: strings, numbers, bools, timestamps, durations, bytes. */
export const TEXT_TYPES: readonly string[] = [
  'string',
  'int',
  'uint',
  'double',
  'bool',
  'google.protobuf.Timestamp',
  'google.protobuf.Duration',
  'bytes',
  'optional',
];

/**
 * The most an evaluation of one parsed subexpression of a program of `env` (the AST of a
 * conjunct, say) can be charged with inputs within `input`: the bound {@link compileExpression}
 * gives a whole program, for a part of one.
 */
export function estimateExpressionCost(
  ast: ASTNode,
  env: CelEnvironment,
  input: InputLimits = DEFAULT_INPUT_LIMITS,
): number {
  return estimateCost(ast, { variables: variableBounds(env, input) });
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
  let checkedType = type;
  if (options.strict) {
    let strict: ReturnType<ReturnType<Environment['parse']>['check']>;
    try {
      strict = env.strictImpl.parse(source).check();
    } catch (e) {
      return { ok: false, error: toCelError(e, source, 'type') };
    }
    if (!strict.valid) return { ok: false, error: toCelError(strict.error, source, 'type') };
    checkedType = strict.type ?? 'dyn';
  }
  if (
    options.expect &&
    !checkedType.startsWith('dyn') &&
    !options.expect.some((t) => checkedType === t || checkedType.startsWith(`${t}<`))
  ) {
    const expected = options.expectDescription ?? options.expect.join(' or ');
    return {
      ok: false,
      error: {
        code: 'type',
        message: `expression "${displayText(source.trim(), 80)}" has type ${checkedType}, expected ${expected}`,
      },
    };
  }
  const patterns = new Map<string, CompiledPattern>();
  for (const literal of literalPatterns(parsed.ast)) {
    const result = compilePattern(literal.pattern);
    if (!result.ok) {
      return {
        ok: false,
        error: {
          code: 'regex',
          message: new InvalidPatternError(literal.pattern, result.message).message,
          position: position(source, literal.offset),
        },
      };
    }
    patterns.set(literal.pattern, result.compiled);
  }
  const input = options.input ?? DEFAULT_INPUT_LIMITS;
  const cost = estimateCost(parsed.ast, { variables: variableBounds(env, input) });
  if (options.maxCost !== undefined && cost > options.maxCost) {
    return {
      ok: false,
      error: {
        code: 'cost',
        message:
          `estimated cost ${cost} exceeds the budget of ${options.maxCost} cost units ` +
          `(assuming lists of up to ${input.maxListElements} elements and inputs of up to ${input.maxBytes} bytes)`,
        position: position(source, 0),
      },
    };
  }
  const evaluateParsed = parsed as unknown as (vars: Record<string, unknown>, meter: Meter) => unknown;
  return {
    ok: true,
    program: { source, environment: env.name, type, cost, patterns, run: (vars, meter) => evaluateParsed(vars, meter) },
  };
}

/**
 * Runs a compiled expression within a budget of cost units. JSON inputs are converted with
 * {@link toCelValue}. Never throws: a spent budget is an error with code `budget`, whatever
 * the expression would have made of the failure (`||` and `exists` absorb other errors).
 */
export function evaluate(
  program: CompiledExpression,
  vars: Record<string, unknown>,
  options: EvaluateOptions = {},
): EvaluateResult {
  const meter = new Meter(options.budget ?? DEFAULT_EXPRESSION_COST, program.patterns);
  try {
    const value = program.run(vars, meter);
    if (meter.exceeded) return { ok: false, error: budgetError(meter), cost: meter.used };
    return { ok: true, value: fromCelValue(value), cost: meter.used };
  } catch (e) {
    if (meter.exceeded || e instanceof BudgetExceededError) {
      return { ok: false, error: budgetError(meter), cost: meter.used };
    }
    return { ok: false, error: toCelError(e, program.source, 'evaluation'), cost: meter.used };
  }
}

function budgetError(meter: Meter): CelError {
  return { code: 'budget', message: `evaluation exceeded its budget of ${meter.budget} cost units` };
}

/** String literals given as the pattern of `matches()`, with their offsets. */
function literalPatterns(root: ASTNode): Array<{ pattern: string; offset: number }> {
  const found: Array<{ pattern: string; offset: number }> = [];
  const stack: ASTNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as ASTNode;
    if ((node.op === 'rcall' || node.op === 'call') && node.args[0] === 'matches') {
      const pattern = node.op === 'rcall' ? node.args[2][0] : node.args[1][1];
      if (pattern?.op === 'value' && typeof pattern.args === 'string') {
        found.push({ pattern: pattern.args, offset: pattern.start });
      }
    }
    for (const child of childNodes(node)) stack.push(child);
  }
  return found;
}

function childNodes(node: ASTNode): ASTNode[] {
  switch (node.op) {
    case 'value':
    case 'id':
      return [];
    case '.':
    case '.?':
      return [node.args[0]];
    case '!_':
    case '-_':
      return [node.args];
    case 'call':
      return [...node.args[1]];
    case 'rcall':
      return [node.args[1], ...node.args[2]];
    case 'list':
      return [...node.args];
    case 'map':
      return node.args.flat();
    case '?:':
      return [...node.args];
    default:
      return [...node.args];
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

/**
 * JSON value to CEL input: integral numbers become `int` (bigint); everything else is kept. A
 * map with a `constructor` key becomes a `Map`: cel-js tells a map by `value.constructor`,
 * which such a key would shadow ("Unsupported type: object").
 */
export function toCelValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCelValue);
  if (value instanceof Date || value instanceof Uint8Array || value === null) return value;
  if (typeof value === 'object' && Object.hasOwn(value, 'constructor')) {
    const map = new Map<string, unknown>();
    for (const [k, v] of Object.entries(value)) if (v !== undefined) map.set(k, toCelValue(v));
    return map;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) setOwn(out, k, toCelValue(v));
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
    for (const [k, v] of value) setOwn(out, String(fromCelValue(k)), fromCelValue(v));
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
  for (const [k, v] of Object.entries(value)) setOwn(out, k, fromCelValue(v));
  return out;
}
