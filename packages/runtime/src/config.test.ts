import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envList, expressionLimits, parseConfig, SharedEnv } from './config.ts';

const schema = z.object(SharedEnv);

describe('expression limits from the environment', () => {
  it('defaults to the core defaults', () => {
    expect(expressionLimits(parseConfig(schema, {}))).toEqual({
      defaultCost: 1_000_000,
      maxCost: 10_000_000,
      input: { maxDepth: 64, maxListElements: 1_000, maxBytes: 262_144 },
    });
  });

  it('reads every variable', () => {
    const env = {
      AC_CEL_DEFAULT_COST: '500',
      AC_CEL_MAX_COST: '900',
      AC_INPUT_MAX_DEPTH: '8',
      AC_INPUT_MAX_ELEMENTS: '50',
      AC_INPUT_MAX_BYTES: '4096',
    };
    expect(expressionLimits(parseConfig(schema, env))).toEqual({
      defaultCost: 500,
      maxCost: 900,
      input: { maxDepth: 8, maxListElements: 50, maxBytes: 4096 },
    });
  });

  it('refuses a default above the maximum, naming the variable', () => {
    const config = parseConfig(schema, { AC_CEL_DEFAULT_COST: '1000', AC_CEL_MAX_COST: '999' });
    expect(() => expressionLimits(config)).toThrow(ConfigError);
    expect(() => expressionLimits(config)).toThrow(/AC_CEL_DEFAULT_COST/);
  });

  it('caps AC_INPUT_MAX_DEPTH at 1000, so what walks a value after the check cannot overflow the stack', () => {
    expect(expressionLimits(parseConfig(schema, { AC_INPUT_MAX_DEPTH: '1000' })).input.maxDepth).toBe(1000);
    expect(() => parseConfig(schema, { AC_INPUT_MAX_DEPTH: '1001' })).toThrow(ConfigError);
    expect(() => parseConfig(schema, { AC_INPUT_MAX_DEPTH: '1001' })).toThrow(/AC_INPUT_MAX_DEPTH/);
  });
});

describe('stream settings from the environment', () => {
  it('defaults to one file-stored copy of each stream with the documented ages and windows', () => {
    expect(parseConfig(schema, {})).toMatchObject({
      AC_STREAM_REPLICAS: 1,
      AC_STREAM_STORAGE: 'file',
      AC_STREAM_DISCARD: 'old',
      AC_STREAM_MAX_BYTES: -1,
      AC_EVENTS_MAX_AGE_MS: 604_800_000,
      AC_TASKS_MAX_AGE_MS: 604_800_000,
      AC_DLQ_MAX_AGE_MS: 2_592_000_000,
      AC_EVENTS_DUPLICATE_WINDOW_MS: 600_000,
      AC_TASKS_DUPLICATE_WINDOW_MS: 3_600_000,
      AC_DLQ_DUPLICATE_WINDOW_MS: 120_000,
    });
  });

  it('names a bad value', () => {
    expect(() => parseConfig(schema, { AC_STREAM_STORAGE: 'disk' })).toThrow(/AC_STREAM_STORAGE/);
    expect(() => parseConfig(schema, { AC_STREAM_REPLICAS: '7' })).toThrow(/AC_STREAM_REPLICAS/);
  });
});

describe('comma-separated lists', () => {
  const lists = z.object({ AC_HOSTS: envList });
  it('trims items and drops empty ones; unset is the empty list', () => {
    expect(parseConfig(lists, { AC_HOSTS: ' a.example, b.example,,c ' }).AC_HOSTS).toEqual([
      'a.example',
      'b.example',
      'c',
    ]);
    expect(parseConfig(lists, { AC_HOSTS: ' , ' }).AC_HOSTS).toEqual([]);
    expect(parseConfig(lists, {}).AC_HOSTS).toEqual([]);
  });
});
