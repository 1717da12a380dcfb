import { CliError, ExitCode } from './errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `500ms`, `90s`, `30m`, `24h`, `7d`, `2w`, or combinations such as `1h30m`, in milliseconds. */
export function parseDuration(text: string, option: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|[smhdw])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new CliError(`${option}: expected a duration such as 30m, 24h or 7d, got "${text}"`, ExitCode.usage);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNITS[p[2] as string] as number), 0);
}

/** A duration back from `now` (`24h`) or an instant (`2026-12-01T00:00:00Z`). */
export function parseInstantOrAgo(text: string, option: string, now = new Date()): Date {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const at = new Date(text);
    if (Number.isNaN(at.getTime())) {
      throw new CliError(`${option}: not a valid timestamp: "${text}"`, ExitCode.usage);
    }
    return at;
  }
  return new Date(now.getTime() - parseDuration(text, option));
}
