import {
  envList,
  parseServiceConfig,
  portSchema,
  positiveIntSchema,
  type ServiceConfig,
  SharedEnv,
} from '@activity-core/runtime';
import { z } from 'zod';

export const ApiConfigSchema = z.object({
  ...SharedEnv,
  /** Port of /trpc, /healthz, /readyz and /metrics. */
  AC_API_PORT: portSchema.default(3000),
  AC_API_HOST: z.string().default('127.0.0.1'),
  /** Bootstrap admin token. Required: no procedure answers without a valid token. */
  AC_API_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  /** Browser origins allowed to call the API, comma-separated (`*` for any). Empty: no CORS. */
  AC_API_CORS_ORIGINS: envList,
  /** Largest request body in bytes; larger requests get 413. */
  AC_API_MAX_BODY_BYTES: positiveIntSchema.default(1024 * 1024),
  /** Largest request head (request line and headers) in bytes; larger requests get 431. */
  AC_API_MAX_HEADER_BYTES: positiveIntSchema.min(1024).default(16 * 1024),
  /** Per-token rate limit: sustained requests per second, and the burst allowed on top. */
  AC_API_RATE_LIMIT_RPS: positiveIntSchema.default(20),
  AC_API_RATE_LIMIT_BURST: positiveIntSchema.default(100),
  // Read the way ingest reads them, so a backtest judges stored events as ingest did: the same
  // variables as the ingest service, with its defaults.
  AC_INGEST_DEFAULT_SOURCE: z.string().min(1).default('urn:activity-core:nats'),
  AC_INGEST_MAX_PAYLOAD_BYTES: positiveIntSchema.default(256 * 1024),
  AC_MAX_CAUSATION_DEPTH: positiveIntSchema.default(8),
});
export type ApiConfig = ServiceConfig<typeof ApiConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return parseServiceConfig(ApiConfigSchema, env);
}
