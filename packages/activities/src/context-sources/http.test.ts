import { describe, expect, test } from 'vitest';
import { isHostAllowed } from './http.ts';

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
