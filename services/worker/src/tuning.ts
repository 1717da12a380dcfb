import type { MetricsExporterConfig } from '@temporalio/worker';
import type { WorkerConfig } from './config.ts';
import { sdkPrometheusExporter } from './sdk-metrics.ts';
import type { StartWorkerOptions } from './worker.ts';

/** The Temporal worker's tuning options that the configuration sets. */
export type WorkerTuning = Pick<
  StartWorkerOptions,
  'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions'
>;

/**
 * The tuning options of `config` (what is unset keeps Temporal's default); the raw baselines of
 * bench/pipeline.ts get the same ones, so the benchmark compares like with like.
 */
export function workerTuning(config: Readonly<WorkerConfig>): WorkerTuning {
  return {
    maxCachedWorkflows: config.AC_WORKER_MAX_CACHED_WORKFLOWS,
    ...(config.AC_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined
      ? { maxConcurrentWorkflowTaskExecutions: config.AC_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS }
      : {}),
    ...(config.AC_WORKER_MAX_CONCURRENT_ACTIVITIES !== undefined
      ? { maxConcurrentActivityTaskExecutions: config.AC_WORKER_MAX_CONCURRENT_ACTIVITIES }
      : {}),
  };
}

/**
 * The SDK metrics exporter of `config` for `installTemporalRuntime` in a process that is not the
 * worker service (the benchmark's baseline worker): with `AC_WORKER_CORE_METRICS_ADDRESS` set,
 * the SDK's own worker metrics are served there, named as on the worker's /metrics; unset: none.
 * The worker service itself always has them (`sdkMetricsAddress` in main.ts).
 */
export function sdkMetricsExporter(config: Pick<WorkerConfig, 'AC_WORKER_CORE_METRICS_ADDRESS'>): {
  metrics?: MetricsExporterConfig;
} {
  if (config.AC_WORKER_CORE_METRICS_ADDRESS === undefined) return {};
  return { metrics: sdkPrometheusExporter(config.AC_WORKER_CORE_METRICS_ADDRESS) };
}
