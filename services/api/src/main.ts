import { createLogger, onShutdownSignal } from '@activity-core/runtime';
import { loadConfig } from './config.ts';
import { startApiService } from './service.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'api' } });
const api = await startApiService(config, { logger });
onShutdownSignal(() => api.stop(), logger);
