import { createLogger, onShutdownSignal } from '@activity-core/runtime';
import { loadConfig } from './config.ts';
import { sdkMetricsAddress, sdkPrometheusExporter } from './sdk-metrics.ts';
import { startWorkerService } from './service.ts';
import { installTemporalRuntime } from './temporal-runtime.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'worker' } });
// The SDK's worker metrics are served by its runtime's exporter and merged into our /metrics.
const sdkMetrics = await sdkMetricsAddress(config);
installTemporalRuntime(logger, config.LOG_LEVEL, { metrics: sdkPrometheusExporter(sdkMetrics) });
const worker = await startWorkerService(config, { logger, sdkMetricsAddress: sdkMetrics });
worker.done.catch((error: unknown) => {
  logger.error('temporal worker failed', { error });
  process.exitCode = 1;
});
// The Temporal worker stops by AC_WORKER_SHUTDOWN_FORCE_MS; closing the connections after it
// gets a little more, and then the process goes whatever is left.
onShutdownSignal(() => worker.stop(), logger, { timeoutMs: config.AC_WORKER_SHUTDOWN_FORCE_MS + 10_000 });
