/**
 * The bounds every CEL evaluation runs within, shared by the save-time estimate and the
 * run-time meter so that what passes at save time fits the budget at run time.
 *
 * Services read the values from the environment (see `README.md`, "Expression budget") and pass
 * them in; these are the defaults when nothing is passed.
 */

/**
 * Declared limits of the data an expression sees (event, resolved context, forEach items).
 * The save-time estimate assumes them; ingest and the API refuse inbound data beyond them
 * (`inspectJson` in input-limits.ts is the one walk that checks them).
 */
export interface InputLimits {
  /** Deepest nesting of lists and maps (`AC_INPUT_MAX_DEPTH`); `[[1]]` is 2 deep, a scalar 0. */
  readonly maxDepth: number;
  /** Most elements in one list, or keys in one map (`AC_INPUT_MAX_ELEMENTS`). */
  readonly maxListElements: number;
  /** Largest input as JSON text, which also bounds any one string or key, in UTF-8 bytes (`AC_INPUT_MAX_BYTES`). */
  readonly maxBytes: number;
}

export interface ExpressionLimits {
  /** Budget of one evaluation when a definition sets no `limits.maxExpressionCost` (`AC_CEL_DEFAULT_COST`). */
  readonly defaultCost: number;
  /** Largest `limits.maxExpressionCost` a definition may ask for (`AC_CEL_MAX_COST`). */
  readonly maxCost: number;
  readonly input: InputLimits;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = Object.freeze({
  maxDepth: 64,
  maxListElements: 1_000,
  maxBytes: 256 * 1024,
});

/** Default budget of one evaluation, in cost units (`node bench/cel-budget.ts` prints the time per unit). */
export const DEFAULT_EXPRESSION_COST = 1_000_000;
/** Default installation-wide maximum of `limits.maxExpressionCost`. */
export const DEFAULT_MAX_EXPRESSION_COST_CAP = 10_000_000;

export const DEFAULT_EXPRESSION_LIMITS: ExpressionLimits = Object.freeze({
  defaultCost: DEFAULT_EXPRESSION_COST,
  maxCost: DEFAULT_MAX_EXPRESSION_COST_CAP,
  input: DEFAULT_INPUT_LIMITS,
});

/**
 * The budget one evaluation of a definition gets: its own `limits.maxExpressionCost`, else the
 * installation default, never above the installation maximum (which may have been lowered
 * since the definition was saved).
 */
export function expressionBudget(
  definitionLimit: number | undefined,
  limits: ExpressionLimits = DEFAULT_EXPRESSION_LIMITS,
): number {
  return Math.min(definitionLimit ?? limits.defaultCost, limits.maxCost);
}
