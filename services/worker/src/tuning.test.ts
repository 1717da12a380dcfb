import { describe, expect, test } from 'vitest';
import { DEFAULT_MAX_CACHED_WORKFLOWS, loadConfig } from './config.ts';
import { workerTuning } from './tuning.ts';

describe('worker tuning', () => {
  test('the sticky cache is bounded by default; the rest keeps Temporal defaults', () => {
    expect(workerTuning(loadConfig({}))).toEqual({ maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS });
  });

  test('each knob reaches the Temporal worker option it names', () => {
    const tuning = workerTuning(
      loadConfig({
        AC_WORKER_MAX_CACHED_WORKFLOWS: '0',
        AC_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '8',
        AC_WORKER_MAX_CONCURRENT_ACTIVITIES: '4',
      }),
    );
    expect(tuning).toEqual({
      maxCachedWorkflows: 0,
      maxConcurrentWorkflowTaskExecutions: 8,
      maxConcurrentActivityTaskExecutions: 4,
    });
  });

  test('a bad value names its variable', () => {
    expect(() => loadConfig({ AC_WORKER_MAX_CACHED_WORKFLOWS: 'lots' })).toThrow(/AC_WORKER_MAX_CACHED_WORKFLOWS/);
  });
});
