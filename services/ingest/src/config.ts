import { parseConfig, portSchema, SharedEnv } from '@activity-core/runtime';
import { z } from 'zod';

export const IngestConfigSchema = z.object({
  ...SharedEnv,
  /** Port of the ingest service's /healthz, /readyz and /metrics. */
  AC_INGEST_PORT: portSchema.default(3001),
});
export type IngestConfig = z.infer<typeof IngestConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<IngestConfig> {
  return parseConfig(IngestConfigSchema, env);
}
