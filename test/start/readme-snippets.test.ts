import { describe, expect, test } from 'vitest';
import { extractSnippets, normalise } from './readme-snippets.ts';

const FENCE = '```';

describe('extractSnippets', () => {
  test('pairs each check block with the output block after it, indented or not', () => {
    const md = [
      'Intro',
      `${FENCE}sh`,
      'echo not run',
      FENCE,
      '1. Step',
      '',
      `   ${FENCE}sh check`,
      '   echo one',
      '     echo indented',
      `   ${FENCE}`,
      '',
      '   Prints:',
      '',
      `   ${FENCE}text output`,
      '   one',
      `   ${FENCE}`,
      `${FENCE}sh check eventually`,
      'echo two',
      FENCE,
      `${FENCE}ts`,
      'const x = 1;',
      FENCE,
    ].join('\n');
    expect(extractSnippets(md)).toEqual([
      { line: 7, script: 'echo one\n  echo indented', eventually: false, expected: 'one' },
      { line: 17, script: 'echo two', eventually: true, expected: undefined },
    ]);
  });
});

describe('normalise', () => {
  test('ids, times, ages and sequence numbers compare equal; everything else does not', () => {
    const a =
      '16:48:51 Stored in Stream: AC_EVENTS Sequence: 2\n{"id": "01a23282-2947-7d84-97a3-35461ae238fb", "at": "2026-12-01T16:48:40.788Z", "seq": 3}';
    const b =
      '09:01:02 Stored in Stream: AC_EVENTS Sequence: 7\n{"id": "01a23299-0000-7d84-97a3-35461ae238fb", "at": "2027-01-02T01:02:03.004Z", "seq": 12}';
    expect(normalise(a)).toBe(normalise(b));
    expect(normalise(a)).not.toBe(normalise(b.replace('AC_EVENTS', 'AC_TASKS')));
    expect(normalise('"total": 250')).not.toBe(normalise('"total": 251'));
  });

  test('header lines compare as a set', () => {
    const a = 'Headers:\n  Ac-Dlq-Reason: invalid_json\n  Ac-Dlq-Field: data\n\nbody';
    const b = 'Headers:\n  Ac-Dlq-Field: data\n  Ac-Dlq-Reason: invalid_json\n\nbody';
    expect(normalise(a)).toBe(normalise(b));
    expect(normalise(a)).not.toBe(normalise(b.replace('invalid_json', 'max_depth')));
  });
});
