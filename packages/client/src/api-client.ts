import type { AppRouter } from '@activity-core/api';
import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';

export type { AppRouter };

export interface ActivityCoreClientOptions {
  /** Where the API's tRPC endpoint is, e.g. `http://127.0.0.1:3000/trpc`. */
  readonly url: string;
  /** A bearer token (`act_…`, or the bootstrap `AC_API_TOKEN`); a function is asked before each request. */
  readonly token: string | (() => string | Promise<string>);
  /** A `fetch` to use instead of the global one (tests, proxies, timeouts). */
  readonly fetch?: typeof globalThis.fetch;
  /** Extra headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Most calls sent in one batched HTTP request (default 20). */
  readonly maxBatchSize?: number;
  /**
   * `'POST'`: send queries as POST too, for inputs too large for a URL (whole definitions for
   * `definitions.diff`, `dryRun`, `backtest`). The API accepts both.
   */
  readonly methodOverride?: 'POST';
}

export type ActivityCoreClient = TRPCClient<AppRouter>;

/**
 * The typed client of the activity-core API. Calls made in the same tick are batched into one
 * HTTP request. Errors are `TRPCClientError`s whose `data` holds `code`, `httpStatus`,
 * `fieldErrors` (for bad input) and `correlationId` (for server faults).
 *
 * @example
 * const api = createActivityCoreClient({ url: 'http://127.0.0.1:3000/trpc', token: process.env.AC_TOKEN! });
 * const { items } = await api.definitions.list.query({ limit: 10 });
 */
export function createActivityCoreClient(options: ActivityCoreClientOptions): ActivityCoreClient {
  const { token } = options;
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: options.url,
        maxItems: options.maxBatchSize ?? 20,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.methodOverride ? { methodOverride: options.methodOverride } : {}),
        headers: async () => ({
          ...options.headers,
          authorization: `Bearer ${typeof token === 'function' ? await token() : token}`,
        }),
      }),
    ],
  });
}
