import { definitionJsonSchema } from '@activity-core/core';

/** What `schemas/activity-definition.schema.json` must hold: the core schema's JSON Schema, pretty-printed. */
export function definitionSchemaFile(): string {
  return `${JSON.stringify(definitionJsonSchema(), null, 2)}\n`;
}
