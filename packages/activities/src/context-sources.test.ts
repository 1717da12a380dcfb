import { describe, expect, test } from 'vitest';
import { isHostAllowed, scrubSecrets } from './context-sources.ts';

describe('isHostAllowed', () => {
  const allowed = ['api.example.com', 'localhost:8080', '*.internal.test'];
  test.each([
    ['https://api.example.com/x', true],
    ['https://API.EXAMPLE.COM/x', true],
    ['https://api.example.com:8443/x', true],
    ['https://evil-api.example.com/x', false],
    ['https://api.example.com.evil.io/x', false],
    ['http://localhost:8080/', true],
    ['http://localhost:9090/', false],
    ['http://localhost/', false],
    ['https://a.internal.test/', true],
    ['https://a.b.internal.test/', true],
    ['https://internal.test/', false],
    ['https://xinternal.test/', false],
  ])('%s → %s', (url, expected) => {
    expect(isHostAllowed(new URL(url), allowed)).toBe(expected);
  });

  test('an empty allow-list allows nothing', () => {
    expect(isHostAllowed(new URL('https://api.example.com'), [])).toBe(false);
    expect(isHostAllowed(new URL('https://api.example.com'), [' ', ''])).toBe(false);
  });
});

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
