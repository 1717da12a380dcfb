import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DbConfig, typeParsers } from './config.ts';

const { builtins } = pg.types;

describe('type parsers', () => {
  it('read int8 as a number and refuse to round', () => {
    const parse = typeParsers.getTypeParser(builtins.INT8, 'text');
    expect(parse('42')).toBe(42);
    expect(() => parse('9007199254740993')).toThrow(RangeError);
  });

  it('keep numeric as an exact string', () => {
    expect(typeParsers.getTypeParser(builtins.NUMERIC, 'text')('0.1000000000000000000001')).toBe(
      '0.1000000000000000000001',
    );
  });

  it('read timestamptz as a Date with milliseconds', () => {
    const d = typeParsers.getTypeParser(builtins.TIMESTAMPTZ, 'text')('2026-11-26 13:25:00.123+00');
    expect(d).toBeInstanceOf(Date);
    expect(d.toISOString()).toBe('2026-11-26T13:25:00.123Z');
  });

  it('refuse timestamp without time zone', () => {
    expect(() => typeParsers.getTypeParser(builtins.TIMESTAMP, 'text')('2026-11-26 13:25:00')).toThrow(TypeError);
  });
});

describe('DbConfig', () => {
  it('fills defaults and names a bad url', () => {
    expect(DbConfig.parse({ url: 'postgres://localhost/x' }).poolMax).toBe(10);
    const r = DbConfig.safeParse({ url: 'mysql://x' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['url']);
  });
});
