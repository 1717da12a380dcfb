import { type CompiledDefinition, formatCelError, renderTemplate } from '@activity-core/core';
import { ContextSourceError } from './errors.ts';

/** A source's templated field as compiled with its definition. */
export type CompiledValue = CompiledDefinition['contextTemplates'] extends Map<string, infer V> ? V : never;

/**
 * Renders a compiled field (literals, `{{ cel }}` templates, arrays and objects of them); each
 * template hole is one evaluation under `budget`.
 */
export function renderCompiled(
  value: CompiledValue,
  vars: Record<string, unknown>,
  source: string,
  budget: number,
): unknown {
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'template': {
      const result = renderTemplate(value.template, vars, { budget });
      if (!result.ok) {
        throw new ContextSourceError(source, `template ${value.template.source}: ${formatCelError(result.error)}`, {
          retryable: false,
        });
      }
      return result.value;
    }
    case 'array':
      return value.items.map((item) => renderCompiled(item, vars, source, budget));
    case 'object':
      return Object.fromEntries(value.entries.map(([k, v]) => [k, renderCompiled(v, vars, source, budget)]));
    default:
      throw new ContextSourceError(source, 'unknown template value', { retryable: false });
  }
}
