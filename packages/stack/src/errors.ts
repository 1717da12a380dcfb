export const StackErrorCode = {
  start_timeout: 'start_timeout',
  start_failed: 'start_failed',
  binary_missing: 'binary_missing',
  config_invalid: 'config_invalid',
  data_dir_in_use: 'data_dir_in_use',
} as const;
export type StackErrorCode = keyof typeof StackErrorCode;

/** A local server could not be found, started or configured. The message says which and why. */
export class StackError extends Error {
  readonly code: StackErrorCode;
  constructor(code: StackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StackError';
    this.code = code;
  }
}
