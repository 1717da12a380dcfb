import { createLogger, onShutdownSignal } from '@activity-core/runtime';
import { startApiService } from './app.ts';
import { loadConfig } from './config.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'api' } });
const api = await startApiService(config, { logger });
onShutdownSignal(() => api.close(), logger);
