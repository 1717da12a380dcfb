import { expect, test } from 'vitest';
import { StackError } from './errors.ts';
import { stackProvider } from './provider.ts';

test('the embedded stack is the default provider', () => {
  expect(stackProvider({})).toBe('embedded');
});

test('testcontainers is selected by AC_STACK_PROVIDER', () => {
  expect(stackProvider({ AC_STACK_PROVIDER: 'testcontainers' })).toBe('testcontainers');
});

test('an unknown provider is a named error that lists the choices', () => {
  expect(() => stackProvider({ AC_STACK_PROVIDER: 'docker' })).toThrow(StackError);
  expect(() => stackProvider({ AC_STACK_PROVIDER: 'docker' })).toThrow(/embedded, testcontainers; got "docker"/);
});
