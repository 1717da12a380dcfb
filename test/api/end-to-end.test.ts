import { type ActivityCoreClient, TRPCClientError } from '@activity-core/client';
import { expect, test } from 'vitest';
import { waitFor } from '../support/wait.ts';
import { useApiOnHarness } from './support.ts';

// The API against a real worker: a manual run spawns tasks, and tasks.complete goes through the
// task's workflow, which writes the row, the run log and the task.completed event.
let client: ActivityCoreClient;
useApiOnHarness((_h, started) => {
  ({ client } = started);
});

test('runs.trigger spawns tasks; tasks.complete and tasks.cancel act through the workflow', async () => {
  const definition = await client.definitions.create.mutate({
    spec: {
      key: 'e2e-manual',
      name: 'Manual checklist',
      trigger: { kind: 'cron', cron: { expression: '0 9 * * 1', timezone: 'UTC' } },
      taskTemplates: [
        { key: 'first', title: 'First step' },
        { key: 'second', title: 'Second step' },
      ],
    },
  });
  const { workflowId, started } = await client.runs.trigger.mutate({
    definitionId: definition.id,
    idempotencyKey: 'e2e-1',
  });
  expect(started).toBe(true);

  const tasks = await waitFor(
    async () => (await client.tasks.list.query({ definitionId: definition.id, status: 'open' })).items,
    { what: `two open tasks of run ${workflowId}`, until: (items) => items.length === 2, timeoutMs: 60_000 },
  );
  const first = tasks.find((t) => t.templateKey === 'first');
  const second = tasks.find((t) => t.templateKey === 'second');
  if (!first || !second) throw new Error('missing tasks');

  const completed = await client.tasks.complete.mutate({ id: first.id, reason: 'done', by: 'ada' });
  expect(completed).toMatchObject({ id: first.id, status: 'completed', completedBy: 'ada', reason: 'done' });
  const again = await client.tasks.complete.mutate({ id: first.id }).catch((e: unknown) => e);
  expect(again).toBeInstanceOf(TRPCClientError);
  expect((again as TRPCClientError<never>).data).toMatchObject({ code: 'CONFLICT' });

  const cancelled = await client.tasks.cancel.mutate({ id: second.id, reason: 'not needed' });
  expect(cancelled).toMatchObject({ status: 'cancelled', completedBy: 'bootstrap' });

  const run = (await client.runs.list.query({ definitionId: definition.id })).items[0];
  expect(run?.workflowId).toBe(workflowId);
  const log = await client.runs.logs.query({ runId: run?.id ?? '' });
  const kinds = log.items.map((e) => e.kind);
  expect(kinds).toContain('task_created');
  expect(kinds).toContain('task_completed');
  expect(kinds).toContain('task_cancelled');
});
