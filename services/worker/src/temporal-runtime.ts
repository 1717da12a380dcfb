import { type Logger, type LogLevel, temporalLogger } from '@activity-core/runtime';
import { type MetricsExporterConfig, Runtime } from '@temporalio/worker';

/**
 * Installs the process's Temporal Core runtime with its logs going through `logger`: the
 * worker's own, the workflow and activity context loggers (the SDK's default sinks use the
 * runtime logger) and, forwarded from the native side, SDK Core's at WARN (INFO with
 * `LOG_LEVEL=debug`). Once per process, before any NativeConnection or Worker is made: the
 * runtime cannot be replaced after that, so `main.ts` calls it and in-process tests keep theirs.
 * Whatever else the process's runtime needs (an SDK metrics exporter) goes in `metrics` here:
 * a second `Runtime.install` throws.
 */
export function installTemporalRuntime(
  logger: Logger,
  level: LogLevel,
  options: { readonly metrics?: MetricsExporterConfig } = {},
): Runtime {
  return Runtime.install({
    logger: temporalLogger(logger.child({ sdk: 'temporal' })),
    telemetryOptions: {
      logging: { filter: { core: level === 'debug' ? 'INFO' : 'WARN', other: 'ERROR' }, forward: {} },
      ...(options.metrics ? { metrics: options.metrics } : {}),
    },
  });
}
