import {
  type CelEnvironment,
  type CelError,
  type CompiledExpression,
  type CompileOptions,
  compileExpression,
  type EvaluateOptions,
  evaluate,
  formatCelError,
} from './cel.ts';

/**
 * A string with `{{ cel }}` holes, e.g. `"Call {{ event.data.name }}"`.
 *
 * A template that is exactly one hole (`"{{ event.data.items }}"`) yields the raw value
 * (a list, a number, …); otherwise the holes are stringified into the text: strings as-is,
 * `null` as empty, numbers and booleans with `String`, lists and maps as JSON.
 * `{{` inside a hole's string literal is fine; there is no escape for a literal `{{` in text.
 */
export interface CompiledTemplate {
  readonly source: string;
  readonly parts: ReadonlyArray<string | CompiledExpression>;
  readonly raw: boolean;
  readonly cost: number;
}

export interface TemplateError extends CelError {
  /** Offset of the error in the whole template string. */
  offset?: number;
}

export type CompileTemplateResult = { ok: true; template: CompiledTemplate } | { ok: false; error: TemplateError };

export interface CompileTemplateOptions extends Pick<CompileOptions, 'maxCost' | 'input'> {
  /** Save-time checking (see {@link CompileOptions.strict}). */
  strict?: boolean;
  /**
   * Result types accepted of a template that is exactly one hole (its raw value is the field's
   * value); text around holes always renders. E.g. {@link TEXT_TYPES} for a title.
   */
  expectRaw?: readonly string[];
  expectDescription?: string;
}

/** Parses the holes of `source` and compiles each against `env`. Never throws. */
export function compileTemplate(
  source: string,
  env: CelEnvironment,
  options: CompileTemplateOptions = {},
): CompileTemplateResult {
  const parts: Array<string | CompiledExpression> = [];
  const holeOptions: CompileOptions = {
    ...(options.maxCost !== undefined ? { maxCost: options.maxCost } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.strict ? { strict: true } : {}),
  };
  let cursor = 0;
  let cost = 0;
  while (cursor < source.length) {
    const open = source.indexOf('{{', cursor);
    if (open < 0) {
      parts.push(source.slice(cursor));
      break;
    }
    if (open > cursor) parts.push(source.slice(cursor, open));
    const close = findClose(source, open + 2);
    if (close < 0) {
      return { ok: false, error: { code: 'syntax', message: 'unclosed "{{" in template', offset: open } };
    }
    const expression = source.slice(open + 2, close);
    if (expression.trim() === '') {
      return { ok: false, error: { code: 'syntax', message: 'empty "{{ }}" in template', offset: open } };
    }
    const raw = open === 0 && close + 2 === source.length;
    const compiled = compileExpression(
      expression,
      env,
      raw && options.expectRaw
        ? {
            ...holeOptions,
            expect: options.expectRaw,
            ...(options.expectDescription ? { expectDescription: options.expectDescription } : {}),
          }
        : holeOptions,
    );
    if (!compiled.ok) {
      const offset = open + 2 + (compiled.error.position?.offset ?? 0);
      return { ok: false, error: { ...compiled.error, offset } };
    }
    cost += compiled.program.cost;
    parts.push(compiled.program);
    cursor = close + 2;
  }
  const raw = parts.length === 1 && typeof parts[0] !== 'string';
  return { ok: true, template: { source, parts, raw, cost } };
}

/** Finds the `}}` that closes a hole, skipping string literals of the expression. */
function findClose(source: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < source.length; i++) {
    const ch = source[i];
    if (quote !== undefined) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '}' && source[i + 1] === '}') return i;
  }
  return -1;
}

export type RenderResult = { ok: true; value: unknown } | { ok: false; error: CelError };

/** Evaluates every hole with `vars` (already CEL values), each within `options.budget`, and assembles the result. */
export function renderTemplate(
  template: CompiledTemplate,
  vars: Record<string, unknown>,
  options: EvaluateOptions = {},
): RenderResult {
  if (template.raw) {
    const only = template.parts[0];
    if (only === undefined || typeof only === 'string') return { ok: true, value: only ?? '' };
    const result = evaluate(only, vars, options);
    return result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error };
  }
  let out = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const result = evaluate(part, vars, options);
    if (!result.ok) return { ok: false, error: result.error };
    out += stringify(result.value);
  }
  return { ok: true, value: out };
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export function describeTemplateError(error: TemplateError): string {
  const where = error.offset !== undefined ? ` at offset ${error.offset}` : '';
  return `${formatCelError(error)}${where}`;
}
