import { createLogger, onShutdownSignal } from '@activity-core/runtime';
import { loadConfig } from './config.ts';
import { startWorkerService } from './service.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'worker' } });
const worker = await startWorkerService(config, { logger });
worker.done.catch((error: unknown) => {
  logger.error('temporal worker failed', { error });
  process.exitCode = 1;
});
onShutdownSignal(() => worker.stop(), logger);
