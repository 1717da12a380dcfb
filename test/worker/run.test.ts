import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition, getRunByWorkflowId, listTasks, readRunLog } from '@activity-core/db';
import { type RunActivityResult, startRunActivity } from '@activity-core/workflows';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { sql } from 'kysely';
import { describe, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { workflowResult } from '../support/temporal.ts';
import { waitFor } from '../support/wait.ts';
import { createOrderDefinition, type Harness, orderEvent, orderSpec, useWorkerHarness } from './harness.ts';

let h: Harness;
useWorkerHarness((harness) => {
  h = harness;
});

describe('RunActivityWorkflow, event-triggered', () => {
  test('end to end: tasks in the database, tasks.created.{key} on NATS, a complete run log', async () => {
    const definition = await createOrderDefinition(h.db);
    const envelope = orderEvent(3, { causationdepth: 2, correlationid: 'corr-1' });
    const input = { definitionId: definition.id, trigger: { kind: 'event' as const, envelope } };
    const first = await startRunActivity(h.client, { taskQueue: h.taskQueue, input });
    expect(first.started).toBe(true);
    expect(first.workflowId).toMatch(new RegExp(`^run:${definition.id}:[0-9a-f]{64}$`));
    // A redelivered event starts nothing new.
    const again = await startRunActivity(h.client, { taskQueue: h.taskQueue, input });
    expect(again).toEqual({ workflowId: first.workflowId, started: false });

    const result: RunActivityResult = await workflowResult(h.client, first.workflowId);
    expect(result).toMatchObject({ status: 'succeeded', tasksPlanned: 3, tasksStarted: 3 });

    const run = await getRunByWorkflowId(h.db, first.workflowId);
    expect(run.status).toBe('succeeded');
    expect(run.definitionVersion).toBe(1);

    // Children run on after the parent finished: wait for their rows and events.
    await h.waitForTaskMessages(3);
    const tasks = (await listTasks(h.db, { runId: run.id })).items;
    expect(tasks.map((t) => t.title).sort()).toEqual(['Review sku-0', 'Review sku-1', 'Review sku-2']);
    for (const t of tasks) {
      expect(t.status).toBe('open');
      expect(t.assignee).toBe('ops');
      expect(t.workflowId).toBe(`task:${first.workflowId}:review:${t.index}`);
      expect(t.idempotencyKey).toBe(t.workflowId);
    }

    const messages = await h.taskMessages();
    expect(messages).toHaveLength(3);
    for (const m of messages) {
      expect(m.subject).toBe(`${h.prefix.toLowerCase()}.tasks.created.${definition.key}`);
      expect(m.body).toMatchObject({
        specversion: '1.0',
        type: 'activitycore.task.created',
        causationdepth: 3,
        causationid: envelope.id,
        correlationid: 'corr-1',
        data: {
          runId: run.id,
          definitionKey: definition.key,
          status: 'open',
          labels: expect.arrayContaining(['order']),
        },
      });
      expect(m.msgId).toBe(m.body.id);
    }
    expect(new Set(messages.map((m) => (m.body.data as { id: string }).id))).toEqual(new Set(tasks.map((t) => t.id)));

    const log = await waitFor(() => readRunLog(h.db, run.id), {
      what: `3 task_created entries in the log of run ${run.id}`,
      until: (entries) => entries.filter((e) => e.kind === 'task_created').length === 3,
    });
    const kinds = log.map((e) => e.kind);
    expect(kinds.slice(0, 3)).toEqual(['triggered', 'context_resolved', 'rules_evaluated']);
    expect(kinds.filter((k) => k === 'task_created')).toHaveLength(3);
    expect(kinds).toContain('run_finished');
    const context = log.find((e) => e.kind === 'context_resolved');
    expect(context?.data).toMatchObject({ sources: [{ name: 'cfg', kind: 'static', value: { team: 'ops' } }] });
    const rules = log.find((e) => e.kind === 'rules_evaluated');
    expect(rules?.data).toMatchObject({ rules: [{ name: 'has_items', result: true }], tasksPlanned: 3 });
  });

  test('a false rule: the run succeeds with no tasks', async () => {
    const definition = await createOrderDefinition(h.db);
    const { workflowId } = await startRunActivity(h.client, {
      taskQueue: h.taskQueue,
      input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(0) } },
    });
    const result = await workflowResult(h.client, workflowId);
    expect(result).toMatchObject({ status: 'succeeded', tasksPlanned: 0, tasksStarted: 0 });
    const run = await getRunByWorkflowId(h.db, workflowId);
    const log = await readRunLog(h.db, run.id);
    expect(log.find((e) => e.kind === 'rules_evaluated')?.data).toMatchObject({
      rules: [{ name: 'has_items', result: false }],
    });
  });

  test('a template error fails the run once, with a clear log entry, and no retries', async () => {
    const definition = await createOrderDefinition(h.db, {
      taskTemplates: [{ key: 'broken', title: '{{ event.data.missing.field }}' }],
    });
    const { workflowId } = await startRunActivity(h.client, {
      taskQueue: h.taskQueue,
      input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(1) } },
    });
    const error = await workflowResult(h.client, workflowId).catch((e: unknown) => e);
    // Failed, not retrying: the plan activity's failure is non-retryable, and so is the run's.
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const runFailure = (error as WorkflowFailedError).cause;
    expect(runFailure).toBeInstanceOf(ApplicationFailure);
    expect(runFailure).toMatchObject({ type: 'PlanFailed', nonRetryable: true });
    // …because the planning activity's own failure, further down the chain, was non-retryable.
    const chain: unknown[] = [];
    for (let e: unknown = runFailure?.cause; e instanceof Error; e = e.cause) chain.push(e);
    expect(chain.find((e) => e instanceof ApplicationFailure)).toMatchObject({
      type: 'PlanFailed',
      nonRetryable: true,
    });
    const run = await getRunByWorkflowId(h.db, workflowId);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ type: 'PlanFailed' });
    const log = await readRunLog(h.db, run.id);
    const failed = log.filter((e) => e.kind === 'run_failed');
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(failed[0]?.data)).toMatch(/taskTemplates\[0\]\.title/);
  });

  test('a stored version that no longer compiles fails the run at its start, logged, and its next run the same way', async () => {
    const definition = await createOrderDefinition(h.db);
    // As if saved by an older release whose checks let it through (versions are immutable, so a
    // new one): a rule that does not compile.
    const broken = definition.version + 1;
    await sql`insert into definition_versions (definition_id, version, spec, created_by)
      select definition_id, ${broken}, jsonb_set(spec, '{rules,0,when}', '"size("'), created_by
      from definition_versions where definition_id = ${definition.id} and version = ${definition.version}`.execute(
      h.db,
    );
    for (const attempt of [1, 2]) {
      const { workflowId } = await startRunActivity(h.client, {
        taskQueue: h.taskQueue,
        input: { definitionId: definition.id, version: broken, trigger: { kind: 'event', envelope: orderEvent(1) } },
      });
      const error = await workflowResult(h.client, workflowId).catch((e: unknown) => e);
      expect(error, `run ${attempt}`).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidDefinition', nonRetryable: true });
      const run = await getRunByWorkflowId(h.db, workflowId);
      expect(run.status).toBe('failed');
      const log = await readRunLog(h.db, run.id);
      expect(log.map((e) => e.kind)).toEqual(['triggered', 'run_failed']);
      expect(JSON.stringify(log[1]?.data)).toContain(`version ${broken} is invalid: rules[0].when`);
      expect((await listTasks(h.db, { runId: run.id })).items).toHaveLength(0);
    }
  });

  test('a missing definition fails the workflow without retries', async () => {
    const { workflowId } = await startRunActivity(h.client, {
      taskQueue: h.taskQueue,
      input: {
        definitionId: '00000000-0000-7000-8000-000000000000',
        trigger: { kind: 'event', envelope: orderEvent(1) },
      },
    });
    await expect(workflowResult(h.client, workflowId)).rejects.toBeInstanceOf(WorkflowFailedError);
  });
});

describe('RunActivityWorkflow, cron misfire', () => {
  async function cronDefinition(policy: 'skip' | 'fire_once' | 'fire_all') {
    const key = `cron-${uniqueId('').slice(0, 8)}`;
    return createDefinition(h.db, {
      spec: ActivityDefinitionSpec.parse(
        orderSpec(key, {
          trigger: {
            kind: 'cron',
            // A grace of an hour: "on time" below must hold however long a loaded machine takes
            // to start the run; "late" occurrences are months old.
            cron: { expression: '0 * * * *', timezone: 'UTC', misfire: { policy, graceSeconds: 3600, maxCatchUp: 2 } },
          },
          rules: [],
          taskTemplates: [{ key: 'hourly', title: 'Check {{ trigger.nominalTime }}' }],
        }),
      ),
    });
  }
  const start = async (definitionId: string, nominalTime: string) => {
    const { workflowId } = await startRunActivity(h.client, {
      taskQueue: h.taskQueue,
      input: { definitionId, trigger: { kind: 'cron', nominalTime, scheduleId: 'sched-test' } },
    });
    return { workflowId, result: await workflowResult(h.client, workflowId) };
  };

  test('skip: a late occurrence is recorded as skipped and spawns nothing', async () => {
    const definition = await cronDefinition('skip');
    const { workflowId, result } = await start(definition.id, '2026-01-01T00:00:00.000Z');
    expect(result).toMatchObject({ status: 'skipped', tasksPlanned: 0 });
    expect(workflowId).toBe(`run:${definition.id}:cron:2026-01-01T00:00:00.000Z`);
    const run = await getRunByWorkflowId(h.db, workflowId);
    expect(run.status).toBe('skipped');
    const log = await readRunLog(h.db, run.id);
    expect(log.map((e) => e.kind)).toEqual(['triggered', 'misfire_skipped']);
    expect((await listTasks(h.db, { runId: run.id })).items).toHaveLength(0);
  });

  test('fire_once: an old occurrence with newer ones due is coalesced', async () => {
    const definition = await cronDefinition('fire_once');
    const { result } = await start(definition.id, '2026-01-01T00:00:00.000Z');
    expect(result).toMatchObject({ status: 'coalesced', tasksPlanned: 0 });
  });

  test('an on-time occurrence runs and spawns its task', async () => {
    const definition = await cronDefinition('skip');
    const nominal = new Date(Date.now() - 1_000).toISOString();
    const { result } = await start(definition.id, nominal);
    expect(result).toMatchObject({ status: 'succeeded', tasksPlanned: 1, tasksStarted: 1 });
  });
});
