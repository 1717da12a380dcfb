import { createServer } from 'node:net';
import type { Logger } from '@activity-core/runtime';
import type { MetricsExporterConfig } from '@temporalio/worker';
import type { WorkerConfig } from './config.ts';

/** Prefix of the Temporal SDK's worker metrics on the worker's /metrics (ours are `ac_`). */
export const SDK_METRIC_PREFIX = 'temporal_';

/** How long a scrape waits for the SDK's exporter before answering without its series. */
const SDK_SCRAPE_TIMEOUT_MS = 2_000;

/**
 * The SDK runtime's Prometheus exporter bound at `bindAddress`, named as Prometheus (and our
 * `ac_` series) name things: counters end in `_total`, durations are in seconds with the unit
 * in the name (`temporal_workflow_task_schedule_to_start_latency_seconds`), all under
 * {@link SDK_METRIC_PREFIX}.
 */
export function sdkPrometheusExporter(bindAddress: string): MetricsExporterConfig {
  return {
    metricPrefix: SDK_METRIC_PREFIX,
    prometheus: { bindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
  };
}

/**
 * Where the SDK's exporter listens: `AC_WORKER_CORE_METRICS_ADDRESS` when set (served there
 * too), otherwise a free loopback port nobody else needs to know. Either way the worker's one
 * `/metrics` includes its series ({@link readSdkMetrics}).
 */
export async function sdkMetricsAddress(config: Pick<WorkerConfig, 'AC_WORKER_CORE_METRICS_ADDRESS'>): Promise<string> {
  if (config.AC_WORKER_CORE_METRICS_ADDRESS !== undefined) return config.AC_WORKER_CORE_METRICS_ADDRESS;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no loopback port for the SDK metrics');
  return `127.0.0.1:${address.port}`;
}

/** The URL to read an exporter bound at `bindAddress` from (a wildcard host is read on loopback). */
export function sdkMetricsUrl(bindAddress: string): string {
  const at = bindAddress.lastIndexOf(':');
  const host = bindAddress.slice(0, at);
  const port = bindAddress.slice(at + 1);
  const local = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' || host === '::' ? '[::1]' : host;
  return `http://${local}:${port}/metrics`;
}

/**
 * Reads the SDK exporter's Prometheus text at scrape time, for the worker's /metrics. A failed
 * or slow read gives no SDK series for that scrape (logged at debug): the `ac_` ones still answer.
 */
export function readSdkMetrics(bindAddress: string, logger: Logger): () => Promise<string> {
  const url = sdkMetricsUrl(bindAddress);
  return async () => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return await res.text();
    } catch (error) {
      logger.debug('Temporal SDK metrics not read for /metrics', { url, error });
      return '';
    }
  };
}
