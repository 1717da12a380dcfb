// The raw baselines' worker process (bench/pipeline.ts spawns it): the baseline workflows and
// their one activity, on the same Temporal tuning as the product's worker (read from the same
// environment variables through the worker service's own config and `workerTuning`).
import { readFileSync } from 'node:fs';
import { connectNats, ensureStreams, natsSettingsFrom, taskSubject, topology } from '@activity-core/messaging';
import { createLogger } from '@activity-core/runtime';
import { loadConfig } from '@activity-core/worker-service/config';
import { installTemporalRuntime } from '@activity-core/worker-service/temporal-runtime';
import { sdkMetricsExporter, workerTuning } from '@activity-core/worker-service/tuning';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createBaselineActivities } from './baseline.activities.ts';

const config = loadConfig();
installTemporalRuntime(
  createLogger({ level: config.LOG_LEVEL, base: { service: 'bench-baseline-worker' } }),
  config.LOG_LEVEL,
  sdkMetricsExporter(config),
);
const bundle = process.env.BENCH_BASELINE_BUNDLE;
if (!bundle) throw new Error('BENCH_BASELINE_BUNDLE is required');
const t = topology(config.AC_STREAM_PREFIX);
const nc = await connectNats(natsSettingsFrom(config, 'bench-baseline-worker'));
await ensureStreams(await jetstreamManager(nc), t);
const connection = await NativeConnection.connect(config.temporal.connection);
const worker = await Worker.create({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  workflowBundle: { code: readFileSync(bundle, 'utf8') },
  activities: createBaselineActivities(jetstream(nc), taskSubject(t, 'created', 'baseline')),
  shutdownGraceTime: '10 seconds',
  ...workerTuning(config),
});
const done = worker.run();
process.stderr.write(`${JSON.stringify({ msg: 'baseline worker ready', pid: process.pid })}\n`);
process.once('SIGTERM', () => worker.shutdown());
await done;
await connection.close();
await nc.drain();
process.exit(0);
