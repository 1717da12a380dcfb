import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContextResolverRegistry } from '@activity-core/activities';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition } from '@activity-core/db';
import { cancelTask, completeTask, startRunActivity, taskStatusQuery } from '@activity-core/workflows';
import { WorkflowFailedError } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { workflowResult } from '../support/temporal.ts';
import { waitFor } from '../support/wait.ts';
import { createHarness, createOrderDefinition, orderEvent, orderSpec, workflowBundle } from './harness.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const RECORD = process.env.AC_RECORD_FIXTURES === '1';
/**
 * Prefix of the fixtures a recording writes: the workflows' current shape. Fixtures of earlier
 * shapes stay as they are (unprefixed: children wrote their own task rows; `writes-tasks-`: the
 * run writes them, see RUN_WRITES_TASKS; `begins-in-one-step-`: the run also begins in one local
 * activity, see RUN_BEGINS_IN_ONE_STEP); a change of shape gets a new prefix, so a recording
 * never overwrites the histories that deployed code has left behind.
 */
const RECORDED_SHAPE = 'begins-in-one-step-';

interface Fixture {
  readonly name: string;
  readonly workflowId: string;
  readonly history: unknown;
}

function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const { workflowId, history } = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Fixture;
      return { name: f, workflowId, history };
    });
}

describe('replay of recorded histories', () => {
  // Not a check: a maintenance step that exists only when asked for, after an intended change
  // that old histories may not survive (use `patched()` for anything already deployed):
  //   AC_RECORD_FIXTURES=1 npx vitest run --project integration test/worker/replay.test.ts
  if (RECORD)
    test('record representative histories as fixtures', async () => {
      await using h = await createHarness();
      await h.startWorker({
        resolvers: createContextResolverRegistry({ weather: async () => ({ celsius: -3 }) }),
      });
      const save = async (name: string, workflowId: string) => {
        const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
        writeFileSync(
          join(FIXTURES, `${RECORDED_SHAPE}${name}.json`),
          `${JSON.stringify({ workflowId, history: JSON.parse(historyToJSON(history)) }, null, 1)}\n`,
        );
      };
      const run = async (definitionId: string, trigger: Parameters<typeof startRunActivity>[1]['input']['trigger']) => {
        const { workflowId } = await startRunActivity(h.client, {
          taskQueue: h.taskQueue,
          input: { definitionId, trigger },
        });
        // Some of these runs fail on purpose; anything else (a timeout) is an error.
        await workflowResult(h.client, workflowId).catch((error: unknown) => {
          if (!(error instanceof WorkflowFailedError)) throw error;
        });
        return workflowId;
      };
      const open = async (taskWorkflowId: string) =>
        waitFor(async () => (await h.client.workflow.getHandle(taskWorkflowId).query(taskStatusQuery)).status, {
          what: `task workflow ${taskWorkflowId} to be open`,
          until: (status) => status === 'open',
        });

      const orders = await createOrderDefinition(h.db);
      const eventRun = await run(orders.id, { kind: 'event', envelope: orderEvent(3) });
      await save('run-event-3-tasks', eventRun);
      await open(`task:${eventRun}:review:0`);
      await completeTask(h.client, `task:${eventRun}:review:0`, { by: 'alice', reason: 'ok', result: { n: 1 } });
      await workflowResult(h.client, `task:${eventRun}:review:0`);
      await save('task-completed', `task:${eventRun}:review:0`);
      await open(`task:${eventRun}:review:1`);
      await cancelTask(h.client, `task:${eventRun}:review:1`, { by: 'bob', reason: 'dup' });
      await workflowResult(h.client, `task:${eventRun}:review:1`);
      await save('task-cancelled', `task:${eventRun}:review:1`);

      const expiring = await createOrderDefinition(h.db, {
        rules: [],
        taskTemplates: [{ key: 'review', title: 'Quick', due: 'PT1S', dueGraceSeconds: 0 }],
      });
      const expiringRun = await run(expiring.id, {
        kind: 'manual',
        requestedBy: 'tester',
        idempotencyKey: uniqueId('m-'),
      });
      await save('run-manual-1-task', expiringRun);
      await workflowResult(h.client, `task:${expiringRun}:review:0`);
      await save('task-expired', `task:${expiringRun}:review:0`);

      const broken = await createOrderDefinition(h.db, {
        taskTemplates: [{ key: 'x', title: '{{ event.data.nope }}' }],
      });
      await save('run-failed-template', await run(broken.id, { kind: 'event', envelope: orderEvent(1) }));

      const cronKey = `cron-${uniqueId('').slice(0, 8)}`;
      const cron = await createDefinition(h.db, {
        spec: ActivityDefinitionSpec.parse(
          orderSpec(cronKey, {
            trigger: {
              kind: 'cron',
              cron: {
                expression: '0 * * * *',
                timezone: 'UTC',
                misfire: { policy: 'skip', graceSeconds: 60, maxCatchUp: 1 },
              },
            },
            rules: [],
            taskTemplates: [{ key: 'hourly', title: 'Hourly check' }],
          }),
        ),
      });
      // A plan of no tasks (the rule is false), and a context that calls out (a regular activity).
      await save('run-event-0-tasks', await run(orders.id, { kind: 'event', envelope: orderEvent(0) }));
      const custom = await createOrderDefinition(h.db, {
        contextSources: [{ name: 'wx', kind: 'custom', resolver: 'weather' }],
        rules: [],
        taskTemplates: [{ key: 'check', title: 'Weather {{ context.wx.celsius }}' }],
      });
      await save(
        'run-custom-context-1-task',
        await run(custom.id, { kind: 'manual', requestedBy: 'tester', idempotencyKey: uniqueId('m-') }),
      );

      await save(
        'run-cron-misfire-skipped',
        await run(cron.id, { kind: 'cron', nominalTime: '2026-01-01T00:00:00.000Z', scheduleId: 'sched-1' }),
      );
    });

  test('every fixture replays on the current workflow code without a determinism error', async () => {
    const fixtures = loadFixtures();
    expect(fixtures.length).toBeGreaterThanOrEqual(23);
    const results = Worker.runReplayHistories(
      { workflowBundle: await workflowBundle() },
      fixtures.map((f) => ({ workflowId: f.workflowId, history: historyFromJSON(f.history) })),
    );
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of results) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(fixtures.length);
  });
});
