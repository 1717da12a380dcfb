// Worker memory is bounded by the sticky cache (AC_WORKER_MAX_CACHED_WORKFLOWS), not by the
// number of open tasks: an open task's workflow that fell out of the cache must still close when
// asked, by replaying its history on the next update.
import { getRunByWorkflowId, getTaskByIdempotencyKey, readRunLog } from '@activity-core/db';
import { completeTask, startRunActivity } from '@activity-core/workflows';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { workflowResult } from '../support/temporal.ts';
import { createHarness, createOrderDefinition, type Harness, orderEvent } from './harness.ts';

/** Temporal's smallest sticky cache that is not "no cache". */
const CACHE = 2;
const TASKS = 6;

let h: Harness;
let cached: () => number;
beforeAll(async () => {
  h = await createHarness();
  const running = await h.startWorker({ maxCachedWorkflows: CACHE });
  cached = () => running.worker.getStatus().numCachedWorkflows;
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

describe('open tasks evicted from the sticky cache', () => {
  test('each still completes: row, event and log entry', async () => {
    const definition = await createOrderDefinition(h.db);
    const { workflowId } = await startRunActivity(h.client, {
      taskQueue: h.taskQueue,
      input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(TASKS) } },
    });
    await workflowResult(h.client, workflowId);
    const run = await getRunByWorkflowId(h.db, workflowId);
    expect(run.status).toBe('succeeded');
    const taskIds = Array.from({ length: TASKS }, (_, i) => `task:${workflowId}:review:${i}`);
    for (const id of taskIds) expect((await getTaskByIdempotencyKey(h.db, id)).status).toBe('open');
    // The run and its six task workflows went through a cache of two: most are not in it.
    expect(cached()).toBeLessThanOrEqual(CACHE);

    for (const [i, id] of taskIds.entries()) {
      const view = await completeTask(h.client, id, { by: `user-${i}` });
      expect(view).toMatchObject({ status: 'completed', by: `user-${i}` });
    }
    for (const [i, id] of taskIds.entries()) {
      expect(await getTaskByIdempotencyKey(h.db, id)).toMatchObject({ status: 'completed', completedBy: `user-${i}` });
    }
    expect(cached()).toBeLessThanOrEqual(CACHE);
    await h.waitForTaskMessages(2 * TASKS);
    const types = (await h.taskMessages()).map((m) => String(m.body.type).replace('activitycore.task.', ''));
    expect(types.filter((t) => t === 'created')).toHaveLength(TASKS);
    expect(types.filter((t) => t === 'completed')).toHaveLength(TASKS);
    const kinds = (await readRunLog(h.db, run.id)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'task_created')).toHaveLength(TASKS);
    expect(kinds.filter((k) => k === 'task_completed')).toHaveLength(TASKS);
  });
});
