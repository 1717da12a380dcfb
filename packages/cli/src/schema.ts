import committed from '../../../schemas/activity-definition.schema.json' with { type: 'json' };

/** The committed JSON Schema of a definition document (`schemas/activity-definition.schema.json`). */
export const definitionSchema: Record<string, unknown> = committed;
