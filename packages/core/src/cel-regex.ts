/**
 * `matches()` with RE2 syntax and semantics, as the CEL specification defines it, on `re2js`
 * (a pure-JavaScript port of RE2: linear-time automata, no backtracking, no native code).
 *
 * Differences from JavaScript `RegExp` a definition author may notice: `.` matches any code
 * point but `\n` (so also `\r` and astral characters, which count as one); `\pL`, `\p{Greek}`,
 * `[[:alpha:]]`, `\A`, `\z`, `\Q…\E` and inline flags `(?i)`, `(?s)`, `(?m)` work; backreferences,
 * lookaround and possessive or atomic groups do not exist and are syntax errors, as are repeat
 * counts above 1000.
 */
import { RE2JS, RE2JSException } from 're2js';

/** A compiled pattern and its RE2 program size (instructions), which sets the matching cost. */
export interface CompiledPattern {
  readonly pattern: string;
  readonly regex: RE2JS;
  readonly programSize: number;
}

export type CompilePatternResult = { ok: true; compiled: CompiledPattern } | { ok: false; message: string };

/** Compiles `pattern` with RE2 syntax. Never throws. */
export function compilePattern(pattern: string): CompilePatternResult {
  try {
    const regex = RE2JS.compile(pattern);
    return { ok: true, compiled: { pattern, regex, programSize: regex.programSize() } };
  } catch (e) {
    if (e instanceof RE2JSException) return { ok: false, message: e.message };
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

/** Patterns compiled at run time (not literals) kept for reuse: a small LRU, bounded in count and size. */
export const PATTERN_CACHE_ENTRIES = 256;
/** Longer dynamic patterns are compiled on every use rather than cached. */
export const PATTERN_CACHE_MAX_LENGTH = 4_096;

const cache = new Map<string, CompiledPattern>();

/** Compiles a pattern that was not a literal, through the bounded cache. Throws on invalid RE2. */
export function dynamicPattern(pattern: string): CompiledPattern {
  const hit = cache.get(pattern);
  if (hit) {
    cache.delete(pattern);
    cache.set(pattern, hit);
    return hit;
  }
  const result = compilePattern(pattern);
  if (!result.ok) throw new InvalidPatternError(pattern, result.message);
  if (pattern.length <= PATTERN_CACHE_MAX_LENGTH) {
    cache.set(pattern, result.compiled);
    if (cache.size > PATTERN_CACHE_ENTRIES) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
  }
  return result.compiled;
}

/** How many dynamic patterns the cache holds now (for tests and metrics). */
export function patternCacheSize(): number {
  return cache.size;
}

export class InvalidPatternError extends Error {
  override readonly name = 'InvalidPatternError';
  readonly pattern: string;
  constructor(pattern: string, detail: string) {
    super(
      `invalid RE2 pattern ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)}: ${detail}`,
    );
    this.pattern = pattern;
  }
}
