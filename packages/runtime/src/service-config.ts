import type { z } from 'zod';
import { parseConfig } from './config.ts';
import { loadTemporalSettings, type TemporalSettings } from './temporal.ts';

/** A service's config: its variables, plus Temporal's connection as the SDKs resolve it. */
export type ServiceConfig<S extends z.ZodType> = Readonly<z.infer<S> & { readonly temporal: TemporalSettings }>;

/**
 * `parseConfig` of a service schema, plus `temporal` from {@link loadTemporalSettings} (the
 * `TEMPORAL_*` variables and the profile file). Throws a ConfigError naming each bad variable.
 */
export function parseServiceConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): ServiceConfig<S> {
  const config = parseConfig(schema, env);
  return Object.freeze({ ...(config as object), temporal: loadTemporalSettings(env) }) as ServiceConfig<S>;
}
