import type { RunRecord } from '@activity-core/db';
import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { createRunMetrics, createScheduleMetrics, runDurationSeconds } from './metrics.ts';
import { sdkMetricsUrl, sdkPrometheusExporter } from './sdk-metrics.ts';

const lineOf = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

describe('run and task metrics', () => {
  test('every label combination starts at 0; a finished run counts once with its duration', async () => {
    const registry = new Registry();
    const metrics = createRunMetrics(registry);
    let text = await registry.metrics();
    expect(lineOf(text, 'ac_runs_started_total{trigger_kind="cron"}')).toBe(
      'ac_runs_started_total{trigger_kind="cron"} 0',
    );
    expect(lineOf(text, 'ac_runs_finished_total{trigger_kind="cron",status="coalesced"}')).toMatch(/ 0$/);
    expect(lineOf(text, 'ac_tasks_closed_total{outcome="expired"}')).toMatch(/ 0$/);
    expect(lineOf(text, 'ac_window_events_ignored_total')).toBe('ac_window_events_ignored_total 0');

    metrics.runStarted('cron');
    const createdAt = new Date('2026-12-01T10:00:00.000Z');
    metrics.runFinished({
      triggerKind: 'cron',
      status: 'failed',
      createdAt,
      startedAt: new Date('2026-12-01T10:00:01.000Z'),
      finishedAt: new Date('2026-12-01T10:00:03.500Z'),
    } as RunRecord);
    metrics.tasksCreated(0);
    metrics.tasksCreated(3);
    metrics.taskClosed('cancelled');
    metrics.windowEventsIgnored(2);
    text = await registry.metrics();
    expect(lineOf(text, 'ac_runs_started_total{trigger_kind="cron"}')).toMatch(/ 1$/);
    expect(lineOf(text, 'ac_runs_finished_total{trigger_kind="cron",status="failed"}')).toMatch(/ 1$/);
    expect(lineOf(text, 'ac_run_duration_seconds_sum{trigger_kind="cron",status="failed"}')).toMatch(/ 2\.5$/);
    expect(lineOf(text, 'ac_run_duration_seconds_bucket{le="2.5",trigger_kind="cron",status="failed"}')).toMatch(/ 1$/);
    expect(lineOf(text, 'ac_tasks_created_total')).toBe('ac_tasks_created_total 3');
    expect(lineOf(text, 'ac_tasks_closed_total{outcome="cancelled"}')).toMatch(/ 1$/);
    expect(lineOf(text, 'ac_window_events_ignored_total')).toBe('ac_window_events_ignored_total 2');
  });

  test('a run that never started is timed from its creation', () => {
    const createdAt = new Date('2026-12-01T10:00:00.000Z');
    expect(runDurationSeconds({ createdAt, startedAt: null, finishedAt: new Date('2026-12-01T10:00:00.250Z') })).toBe(
      0.25,
    );
  });

  test('schedule reconciles by outcome, failed included, from 0', async () => {
    const registry = new Registry();
    const count = createScheduleMetrics(registry);
    count('created');
    count('failed');
    count('failed');
    const text = await registry.metrics();
    expect(lineOf(text, 'ac_schedule_reconciles_total{outcome="created"}')).toMatch(/ 1$/);
    expect(lineOf(text, 'ac_schedule_reconciles_total{outcome="failed"}')).toMatch(/ 2$/);
    expect(lineOf(text, 'ac_schedule_reconciles_total{outcome="unchanged"}')).toMatch(/ 0$/);
  });
});

describe('the Temporal SDK metrics bridge', () => {
  test('the exporter names series the Prometheus way, under temporal_', () => {
    expect(sdkPrometheusExporter('127.0.0.1:9000')).toEqual({
      metricPrefix: 'temporal_',
      prometheus: {
        bindAddress: '127.0.0.1:9000',
        countersTotalSuffix: true,
        unitSuffix: true,
        useSecondsForDurations: true,
      },
    });
  });

  test('a wildcard bind address is read on loopback', () => {
    expect(sdkMetricsUrl('0.0.0.0:9464')).toBe('http://127.0.0.1:9464/metrics');
    expect(sdkMetricsUrl('[::]:9464')).toBe('http://[::1]:9464/metrics');
    expect(sdkMetricsUrl('10.0.0.5:9464')).toBe('http://10.0.0.5:9464/metrics');
  });
});
