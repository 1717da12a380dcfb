import { definitionJsonSchema } from '@activity-core/core';
import committed from '../../../schemas/activity-definition.schema.json' with { type: 'json' };

/** The committed JSON Schema of a definition document (`schemas/activity-definition.schema.json`). */
export const definitionSchema: Record<string, unknown> = committed;

/** What `schemas/activity-definition.schema.json` must hold: the core schema's JSON Schema, pretty-printed. */
export function definitionSchemaFile(): string {
  return `${JSON.stringify(definitionJsonSchema(), null, 2)}\n`;
}
