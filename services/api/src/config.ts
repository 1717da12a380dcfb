import { parseConfig, portSchema, SharedEnv } from '@activity-core/runtime';
import { z } from 'zod';

export const ApiConfigSchema = z.object({
  ...SharedEnv,
  /** Port of /trpc, /healthz, /readyz and /metrics. */
  AC_API_PORT: portSchema.default(3000),
  AC_API_HOST: z.string().default('127.0.0.1'),
  /** Bootstrap admin token. Required: no procedure answers without a valid token. */
  AC_API_TOKEN: z.string().min(16, 'must be at least 16 characters'),
});
export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<ApiConfig> {
  return parseConfig(ApiConfigSchema, env);
}
