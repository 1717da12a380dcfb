// Writes schemas/activity-definition.schema.json from the core zod schema. Run it after changing
// the definition format: node packages/cli/scripts/generate-schema.ts (a unit test checks it).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { definitionSchemaFile } from '../src/schema-file.ts';

const file = fileURLToPath(new URL('../../../schemas/activity-definition.schema.json', import.meta.url));
writeFileSync(file, definitionSchemaFile());
process.stdout.write(`wrote ${file}\n`);
