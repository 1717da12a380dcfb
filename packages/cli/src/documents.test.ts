import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from './documents.ts';
import { CliError } from './errors.ts';

const GOOD = `key: digest
name: Daily digest
trigger:
  kind: cron
  cron:
    expression: "0 8 * * *"
    timezone: Europe/Berlin
taskTemplates:
  - key: digest
    title: Digest
`;

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'ac-cli-docs-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

function problems(files: Record<string, string>): string[] {
  const d = dir(files);
  try {
    loadDefinitions([d], d);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return [...(error as CliError).details];
  }
  return [];
}

describe('loadDefinitions', () => {
  it('reads every document of every YAML and JSON file of a folder, in order', () => {
    const d = dir({
      'a.yaml': `${GOOD}---\n${GOOD.replace('key: digest', 'key: digest-two')}`,
      'b.json': JSON.stringify({
        ...{ key: 'j-one', name: 'J', taskTemplates: [{ key: 't', title: 'T' }] },
        trigger: { kind: 'event', event: { types: ['x'] } },
      }),
      'notes.txt': 'not a definition',
    });
    const docs = loadDefinitions([d], d);
    expect(docs.map((x) => [x.file, x.n, (x.value as { key: string }).key])).toEqual([
      ['a.yaml', 1, 'digest'],
      ['a.yaml', 2, 'digest-two'],
      ['b.json', 1, 'j-one'],
    ]);
  });

  it('names file, document, line and field for an unknown field and a wrong type', () => {
    const found = problems({
      'ok.yaml': GOOD,
      'bad.yaml': `${GOOD}---\n${GOOD.replace('title: Digest', 'title: Digest\n    titel: typo').replace('timezone: Europe/Berlin', 'timezone: 42')}`,
    });
    expect(found).toEqual([
      'bad.yaml (document 2, line 18): trigger.cron.timezone: must be string',
      'bad.yaml (document 2, line 22): taskTemplates[0].titel: unknown field',
    ]);
  });

  it('reports invalid YAML with its line, and a wrong trigger kind as such', () => {
    const found = problems({
      'broken.yaml': 'key: x\nname: [unclosed\n',
      'kind.yaml': GOOD.replace('kind: cron', 'kind: hourly'),
    });
    expect(found[0]).toMatch(/^broken\.yaml \(document 1, line \d\): \(document\): invalid YAML: /);
    expect(found[1]).toBe('kind.yaml (document 1, line 4): trigger.kind: expected one of cron, event');
  });
});
