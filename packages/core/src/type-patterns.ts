// Patterns of event triggers: dot-token type patterns and source globs. Pure.

const TYPE_PATTERN = /^[^.\s]+(\.[^.\s]+)*$/;

/** Checks a dot-token type pattern; returns a message or undefined when valid. */
export function typePatternError(pattern: string): string | undefined {
  if (!TYPE_PATTERN.test(pattern)) return 'expected dot-separated tokens without spaces, e.g. "order.*.created"';
  const tokens = pattern.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === '>' && i !== tokens.length - 1) return '">" may only be the last token';
    if (token !== '*' && token !== '>' && (token.includes('*') || token.includes('>'))) {
      return '"*" and ">" must be whole tokens';
    }
  }
  return undefined;
}

/** True when `type` matches the dot-token pattern. */
export function matchesTypePattern(pattern: string, type: string): boolean {
  const p = pattern.split('.');
  const t = type.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return p.length === t.length;
}

/** True when `source` matches the glob (`*` = any characters, everything else literal). */
export function matchesSourcePattern(pattern: string, source: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === source;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (!source.startsWith(first) || source.length < first.length + last.length || !source.endsWith(last)) return false;
  let cursor = first.length;
  const limit = source.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    const at = source.indexOf(part, cursor);
    if (at < 0 || at + part.length > limit) return false;
    cursor = at + part.length;
  }
  return true;
}
