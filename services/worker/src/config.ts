import { parseConfig, portSchema, SharedEnv } from '@activity-core/runtime';
import { z } from 'zod';

export const WorkerConfigSchema = z.object({
  ...SharedEnv,
  /** Port of the worker's /healthz, /readyz and /metrics. */
  AC_WORKER_PORT: portSchema.default(3002),
});
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<WorkerConfig> {
  return parseConfig(WorkerConfigSchema, env);
}
