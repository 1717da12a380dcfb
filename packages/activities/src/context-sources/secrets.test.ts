import { describe, expect, test } from 'vitest';
import { scrubSecrets } from './secrets.ts';

describe('scrubSecrets', () => {
  test('replaces every occurrence at any depth and leaves the rest alone', () => {
    const value = { a: 'Bearer s3cr3t-value', b: ['x', { c: 's3cr3t-value s3cr3t-value' }], n: 1, z: null };
    expect(scrubSecrets(value, ['s3cr3t-value'])).toEqual({
      a: 'Bearer [redacted]',
      b: ['x', { c: '[redacted] [redacted]' }],
      n: 1,
      z: null,
    });
  });

  test('ignores values too short to be secrets, so it cannot blank out ordinary text', () => {
    expect(scrubSecrets({ a: 'abc' }, ['a'])).toEqual({ a: 'abc' });
  });
});
