/**
 * Error codes raised by the core as exceptions. Functions that validate input return
 * results instead of throwing; these codes are for programming errors and invariant
 * violations that callers should not try to recover from.
 */
export const CoreErrorCode = {
  invalidArgument: 'invalid_argument',
  invariant: 'invariant',
  expression: 'expression',
} as const;
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** The one exception class of the core: a code a caller can switch on, and the cause. */
export class CoreError extends Error {
  override readonly name = 'CoreError';
  readonly code: CoreErrorCode;
  override readonly cause: unknown;

  constructor(code: CoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.code = code;
    this.cause = options?.cause;
  }
}

/** Ends every exhaustive `switch`: a compile error when a union member is missed. */
export function assertNever(value: never, what = 'value'): never {
  throw new CoreError(CoreErrorCode.invariant, `Unexpected ${what}: ${JSON.stringify(value)}`);
}

/** The success-or-error shape returned by every validating function of the core. */
export type Result<T, E> = ({ ok: true } & T) | { ok: false; error: E };

/** Path-addressed validation error, e.g. `{ path: "taskTemplates[0].title", message }`. */
export interface FieldError {
  path: string;
  message: string;
  code?: string;
}

/**
 * Renders a path array (`['taskTemplates', 0, 'title']`) as `taskTemplates[0].title`. Segments
 * may also be Standard Schema path segments (`{ key }`), as tRPC passes a validator's issues on.
 */
export function formatPath(path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string {
  let out = '';
  for (const raw of path) {
    const segment = typeof raw === 'object' && raw !== null ? raw.key : raw;
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}
