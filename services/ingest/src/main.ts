import { createLogger, onShutdownSignal } from '@activity-core/runtime';
import { loadConfig } from './config.ts';
import { startIngestService } from './service.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'ingest' } });
const ingest = await startIngestService(config, { logger });
onShutdownSignal(() => ingest.stop(), logger);
