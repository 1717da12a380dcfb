import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { definitionSchemaFile } from './schema-file.ts';

const FILE = fileURLToPath(new URL('../../../schemas/activity-definition.schema.json', import.meta.url));

describe('schemas/activity-definition.schema.json', () => {
  it('is what the generator makes from the core schema (run: node packages/cli/scripts/generate-schema.ts)', () => {
    expect(readFileSync(FILE, 'utf8')).toBe(definitionSchemaFile());
  });
});
