// Bounded work on untrusted JSON: the one walker that checks the declared input limits
// (`InputLimits` in cel-limits.ts, the same values the CEL cost estimate assumes) on the data
// activity-core accepts (event data, context source values, definition values, API inputs).
// The walker keeps an explicit stack, so a value nested 100,000 deep costs a loop, not a stack
// overflow; everything that walks a value after it (CEL conversion, template rendering,
// JSON.stringify for PostgreSQL and Temporal) then recurses at most `maxDepth` levels.
import { utf8Length } from './bytes.ts';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from './cel-limits.ts';
import { formatPath } from './errors.ts';

/**
 * No bounds: {@link inspectJson} then checks only that the value is storable (text without NUL
 * or unpaired surrogates, finite numbers). For values bounded otherwise, e.g. a planned task.
 */
export const STORABLE_ONLY: InputLimits = Object.freeze({
  maxDepth: Number.POSITIVE_INFINITY,
  maxListElements: Number.POSITIVE_INFINITY,
  maxBytes: Number.POSITIVE_INFINITY,
});

/**
 * Why a value is refused: nested too deep, too large (a list, map or string over its limit),
 * or holding something PostgreSQL's `jsonb` cannot store or JSON cannot carry (a NUL
 * character, an unpaired UTF-16 surrogate, a number that is not finite).
 */
export type JsonProblemKind = 'too_deep' | 'too_large' | 'unsupported';

export interface JsonProblem {
  readonly kind: JsonProblemKind;
  /** Where, from the value's root, e.g. `items[3].name` (empty for the root itself). */
  readonly path: string;
  readonly message: string;
}

type Segment = string | number;

interface Frame {
  readonly value: unknown;
  /** Containers enclosing this value (0 for the root). */
  readonly depth: number;
  readonly parent: Frame | undefined;
  readonly segment: Segment | undefined;
}

function pathOf(frame: Frame, prefix: readonly Segment[]): string {
  const segments: Segment[] = [];
  for (let f: Frame | undefined = frame; f?.segment !== undefined; f = f.parent) segments.push(f.segment);
  return formatPath([...prefix, ...segments.reverse()]);
}

/**
 * Checks a JSON value against the limits and the storable-text rule, without recursion, and
 * returns the first problem in document order (or undefined). Only plain objects and arrays are
 * walked; `path` prefixes the reported path (e.g. `['data']`).
 *
 * @example inspectJson(JSON.parse(body), DEFAULT_INPUT_LIMITS, ['data']) // { kind: 'too_deep', path: 'data.a.a…', … }
 */
export function inspectJson(
  value: unknown,
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
  path: readonly Segment[] = [],
): JsonProblem | undefined {
  const stack: Frame[] = [{ value, depth: 0, parent: undefined, segment: undefined }];
  const problem = (kind: JsonProblemKind, frame: Frame, message: string): JsonProblem => ({
    kind,
    path: pathOf(frame, path),
    message,
  });
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const v = frame.value;
    switch (typeof v) {
      case 'string': {
        const issue = textProblem(v, limits);
        if (issue) return problem(issue.kind, frame, issue.message);
        continue;
      }
      case 'number':
        if (!Number.isFinite(v)) return problem('unsupported', frame, 'a number out of range (not finite)');
        continue;
      case 'bigint':
      case 'symbol':
      case 'function':
        return problem('unsupported', frame, `a ${typeof v} is not JSON`);
      case 'object': {
        if (v === null) continue;
        const isArray = Array.isArray(v);
        if (!isArray && !isPlainObject(v)) continue;
        const depth = frame.depth + 1;
        if (depth > limits.maxDepth) {
          return problem('too_deep', frame, `nested deeper than ${limits.maxDepth} levels`);
        }
        if (isArray) {
          const list = v as unknown[];
          if (list.length > limits.maxListElements) {
            return problem(
              'too_large',
              frame,
              `a list of ${list.length} elements, the limit is ${limits.maxListElements}`,
            );
          }
          for (let i = list.length - 1; i >= 0; i--) {
            stack.push({ value: list[i], depth, parent: frame, segment: i });
          }
        } else {
          const keys = Object.keys(v);
          if (keys.length > limits.maxListElements) {
            return problem('too_large', frame, `a map of ${keys.length} keys, the limit is ${limits.maxListElements}`);
          }
          for (const key of keys) {
            const issue = textProblem(key, limits);
            if (issue) return problem(issue.kind, frame, `key ${displayText(key)}: ${issue.message}`);
          }
          for (let i = keys.length - 1; i >= 0; i--) {
            const key = keys[i] as string;
            stack.push({ value: (v as Record<string, unknown>)[key], depth, parent: frame, segment: displayText(key) });
          }
        }
        continue;
      }
      default:
        continue;
    }
  }
  return undefined;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Why PostgreSQL's `jsonb` or a `text` column cannot hold this text unchanged, if it cannot. */
export function unstorableText(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return 'a NUL character (U+0000), which PostgreSQL cannot store';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return 'an unpaired UTF-16 surrogate, which is not Unicode text';
    }
    if (c >= 0xdc00 && c <= 0xdfff) return 'an unpaired UTF-16 surrogate, which is not Unicode text';
  }
  return undefined;
}

function textProblem(text: string, limits: InputLimits): { kind: JsonProblemKind; message: string } | undefined {
  if (text.length * 3 > limits.maxBytes && utf8Length(text) > limits.maxBytes) {
    return { kind: 'too_large', message: `a string of more than ${limits.maxBytes} bytes` };
  }
  const unstorable = unstorableText(text);
  return unstorable ? { kind: 'unsupported', message: `holds ${unstorable}` } : undefined;
}

/**
 * Text safe to show in a path, a log or a header: control characters and unpaired surrogates
 * become `\uXXXX` escapes, and long text is cut to `max` characters.
 */
export function displayText(text: string, max = 64): string {
  let out = '';
  for (let i = 0; i < text.length && out.length < max; i++) {
    const c = text.charCodeAt(i);
    const paired = c >= 0xd800 && c <= 0xdbff && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff;
    if (paired) {
      out += text.slice(i, i + 2);
      i++;
    } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff)) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else {
      out += text[i];
    }
  }
  return out.length < max || out.length >= text.length ? out : `${out}…`;
}

/**
 * A copy of `value` that PostgreSQL can store and Temporal can carry, for recording what a
 * failed run was given: NUL characters become the text `\u0000`, unpaired surrogates U+FFFD,
 * numbers that are not finite `null`; containers deeper, lists and maps larger and strings
 * longer than the limits are cut, with a note in place of what was left out. Iterative.
 */
export function storableCopy(value: unknown, limits: InputLimits = DEFAULT_INPUT_LIMITS): unknown {
  const holder: { root?: unknown } = {};
  const stack: Array<{ value: unknown; depth: number; target: Record<string, unknown> | unknown[]; key: string }> = [
    { value, depth: 0, target: holder as Record<string, unknown>, key: 'root' },
  ];
  while (stack.length > 0) {
    const { value: v, depth, target, key } = stack.pop() as (typeof stack)[number];
    let copy: unknown;
    if (typeof v === 'string') copy = storableString(v, limits);
    else if (typeof v === 'number') copy = Number.isFinite(v) ? v : null;
    else if (typeof v === 'boolean' || v === null) copy = v;
    else if (Array.isArray(v) || (typeof v === 'object' && isPlainObject(v))) {
      if (depth + 1 > limits.maxDepth) copy = `[omitted: nested deeper than ${limits.maxDepth} levels]`;
      else if (Array.isArray(v)) {
        const list: unknown[] = [];
        const n = Math.min(v.length, limits.maxListElements);
        for (let i = n - 1; i >= 0; i--) stack.push({ value: v[i], depth: depth + 1, target: list, key: String(i) });
        if (v.length > n) list[n] = `[omitted: ${v.length - n} more]`;
        copy = list;
      } else {
        const map: Record<string, unknown> = {};
        const keys = Object.keys(v).slice(0, limits.maxListElements);
        // Pushed last to first, so the copy keeps the key order.
        for (const k of keys.reverse()) {
          stack.push({
            value: (v as Record<string, unknown>)[k],
            depth: depth + 1,
            target: map,
            key: storableString(k, limits),
          });
        }
        copy = map;
      }
    } else if (v === undefined) continue;
    else copy = String(v);
    if (Array.isArray(target)) target[Number(key)] = copy;
    else setOwn(target, key, copy);
  }
  return holder.root;
}

function storableString(text: string, limits: InputLimits): string {
  const cut = text.length > limits.maxBytes ? `${text.slice(0, limits.maxBytes)}…` : text;
  if (unstorableText(cut) === undefined) return cut;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    if (c === 0) out += '\\u0000';
    else if (c >= 0xd800 && c <= 0xdbff && cut.charCodeAt(i + 1) >= 0xdc00 && cut.charCodeAt(i + 1) <= 0xdfff) {
      out += cut.slice(i, i + 2);
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += cut[i];
  }
  return out;
}

/**
 * `target[key] = value` that also works for the key `__proto__` (an own property instead of a
 * prototype change): for objects built from untrusted keys.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
