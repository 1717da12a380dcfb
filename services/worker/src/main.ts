import { connectNats } from '@activity-core/messaging';
import { createLogger, onShutdownSignal, startOpsServer } from '@activity-core/runtime';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { Registry } from 'prom-client';
import { loadConfig } from './config.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'worker' } });
const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX });
const nc = await connectNats({ url: config.NATS_URL, name: 'activity-core-worker' });
const temporal = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
const ops = await startOpsServer({
  port: config.AC_WORKER_PORT,
  metrics: new Registry(),
  readiness: {
    postgres: async () => void (await pool.query('select 1')),
    nats: () => nc.flush(),
    temporal: async () =>
      void (await temporal.workflowService.describeNamespace({ namespace: config.TEMPORAL_NAMESPACE })),
  },
});
logger.info('worker ready', { port: ops.port });
onShutdownSignal(async () => {
  await ops.close();
  await nc.drain();
  await temporal.close();
  await pool.end();
}, logger);
