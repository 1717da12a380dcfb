import { describe, expect, it } from 'vitest';
import { parseDuration, parseInstantOrAgo } from './duration.ts';
import { CliError } from './errors.ts';

describe('durations', () => {
  it('reads units and combinations', () => {
    expect(parseDuration('90s', '--x')).toBe(90_000);
    expect(parseDuration('250ms', '--x')).toBe(250);
    expect(parseDuration('24h', '--x')).toBe(86_400_000);
    expect(parseDuration('1h30m', '--x')).toBe(5_400_000);
    expect(parseDuration('2w', '--x')).toBe(14 * 86_400_000);
  });

  it('refuses anything else, naming the option', () => {
    for (const bad of ['', '24', 'h', '1.5h', '24 h', '-1h', '1y']) {
      expect(() => parseDuration(bad, '--since')).toThrow(CliError);
      expect(() => parseDuration(bad, '--since')).toThrow(/--since/);
    }
  });

  it('takes an instant or a time ago', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    expect(parseInstantOrAgo('24h', '--since', now).toISOString()).toBe('2026-11-30T12:00:00.000Z');
    expect(parseInstantOrAgo('2026-11-01T00:00:00Z', '--since', now).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(() => parseInstantOrAgo('2026-13-45', '--since', now)).toThrow(/not a valid timestamp/);
  });
});
