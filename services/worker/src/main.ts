import { createLogger, onShutdownSignal } from '@activity-core/runtime';
import { loadConfig } from './config.ts';
import { startWorkerService } from './service.ts';
import { installTemporalRuntime } from './temporal-runtime.ts';
import { sdkMetricsExporter } from './tuning.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'worker' } });
installTemporalRuntime(logger, config.LOG_LEVEL, sdkMetricsExporter(config));
const worker = await startWorkerService(config, { logger });
worker.done.catch((error: unknown) => {
  logger.error('temporal worker failed', { error });
  process.exitCode = 1;
});
// The Temporal worker stops by AC_WORKER_SHUTDOWN_FORCE_MS; closing the connections after it
// gets a little more, and then the process goes whatever is left.
onShutdownSignal(() => worker.stop(), logger, { timeoutMs: config.AC_WORKER_SHUTDOWN_FORCE_MS + 10_000 });
