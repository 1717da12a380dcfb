import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition, type Db, getRunByWorkflowId, listTasks, migrateToLatest } from '@activity-core/db';
import { type RunningPostgres, startPostgres } from '@activity-core/stack';
import { createWorkerDb } from '@activity-core/worker-service/database';
import { startRunActivity } from '@activity-core/workflows';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { uniqueId } from '../support/stack.ts';
import { workflowResult } from '../support/temporal.ts';
import { outlasting, WAIT_MS, waitFor } from '../support/wait.ts';
import { createHarness, type Harness, orderEvent, orderSpec } from './harness.ts';

// The shared stack's PostgreSQL serves every test file; restarting it would break the others.
// This file restarts a PostgreSQL of its own.
/** Each step after the restart: the run's end, its rows, its messages. */
const STEP_MS = 60_000;
const PG_STOP_MS = 15_000;
const PG_START_MS = 30_000;
let h: Harness;
let dir: string;
let port: number;
let pgServer: RunningPostgres | undefined;
let db: Db;

beforeAll(async () => {
  h = await createHarness();
  dir = mkdtempSync(join(tmpdir(), 'ac-pg-restart-'));
  chmodSync(dir, 0o755);
  // The restarted server binds this port again; nothing else may take it meanwhile.
  port = await freePort();
  pgServer = await startPostgres({ dir, port });
  db = createWorkerDb({ url: pgServer.adminUrl, poolMax: 10, connectionTimeoutMs: 1_000 }, () => {});
  await migrateToLatest(db);
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
  await db?.destroy();
  await pgServer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PostgreSQL restarted mid-run', () => {
  test(
    'the run still completes: 10 task rows, 10 task.created messages',
    async () => {
      const key = `order-${uniqueId('').slice(0, 8)}`;
      const definition = await createDefinition(db, { spec: ActivityDefinitionSpec.parse(orderSpec(key)) });
      await h.startWorker({ db });
      const { workflowId } = await startRunActivity(h.client, {
        taskQueue: h.taskQueue,
        input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(10) } },
      });
      await waitFor(
        () =>
          getRunByWorkflowId(db, workflowId).then(
            () => true,
            () => false,
          ),
        { what: `the run row of ${workflowId}`, intervalMs: 20 },
      );
      const rowsBefore = await db
        .selectFrom('task_instances')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      // The restart must land mid-run, or this test would prove nothing.
      expect(Number(rowsBefore.n)).toBeLessThan(10);
      await pgServer?.stop();
      pgServer = await startPostgres({ dir, port, startTimeoutMs: PG_START_MS });

      const result = await workflowResult(h.client, workflowId, STEP_MS);
      expect(result).toMatchObject({ status: 'succeeded', tasksPlanned: 10, tasksStarted: 10 });
      const run = await getRunByWorkflowId(db, workflowId);
      expect(run.status).toBe('succeeded');
      await waitFor(async () => (await listTasks(db, { runId: run.id })).items.length, {
        what: `10 task rows of run ${run.id}`,
        until: (n) => n === 10,
        timeoutMs: STEP_MS,
      });
      await waitFor(
        async () => (await h.taskMessages()).filter((m) => m.body.type === 'activitycore.task.created').length,
        { what: `10 task.created messages of run ${run.id}`, until: (n) => n >= 10, timeoutMs: STEP_MS },
      );
      const created = (await h.taskMessages()).filter((m) => m.body.type === 'activitycore.task.created');
      expect(new Set(created.map((m) => (m.body.data as { id: string }).id)).size).toBe(10);
      expect(created).toHaveLength(10);
    },
    outlasting(WAIT_MS, PG_STOP_MS, PG_START_MS, STEP_MS, STEP_MS, STEP_MS),
  );
});
