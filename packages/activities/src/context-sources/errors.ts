/**
 * A context source failed. `retryable: false` when retrying cannot fix it (a 4xx other than
 * 408/429, a host not allowed, bad config, a response too large); the resolveContext activity
 * then fails without retries.
 */
export class ContextSourceError extends Error {
  override readonly name = 'ContextSourceError';
  readonly source: string;
  readonly retryable: boolean;
  constructor(source: string, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(`context source ${source}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.source = source;
    this.retryable = options.retryable;
  }
}
