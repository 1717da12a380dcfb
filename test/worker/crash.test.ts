import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRunByWorkflowId, listTasks } from '@activity-core/db';
import { startRunActivity } from '@activity-core/workflows';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { workflowResult } from '../support/temporal.ts';
import { outlasting, PROCESS_START_MS, WAIT_MS, waitFor, within } from '../support/wait.ts';
import { createHarness, createOrderDefinition, type Harness, orderEvent, spawnWorkerProcess } from './harness.ts';

/** Each step of the crashed run: rows before the kill, the run's end, rows and messages after. */
const STEP_MS = 60_000;

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await createHarness();
  dir = mkdtempSync(join(tmpdir(), 'ac-worker-crash-'));
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The real worker process, with the settings these crashes need. */
function spawnWorker(env: Record<string, string> = {}) {
  return spawnWorkerProcess({
    databaseUrl: h.database.url,
    taskQueue: h.taskQueue,
    prefix: h.prefix,
    dir,
    env: {
      // One activity at a time, so the kill lands while task rows are still being written.
      AC_WORKER_MAX_CONCURRENT_ACTIVITIES: '1',
      // A claimed-but-unmarked row comes back to the next relay soon after the kill.
      AC_OUTBOX_LEASE_MS: '2000',
      ...env,
    },
  });
}

describe('worker crash', () => {
  test(
    'kill -9 mid-run of a 10-task run; a new worker finishes it: 10 rows, 10 distinct task.created',
    async () => {
      const definition = await createOrderDefinition(h.db);
      const worker = await spawnWorker();
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        worker.once('exit', (_code, signal) => resolve(signal)),
      );
      const { workflowId } = await startRunActivity(h.client, {
        taskQueue: h.taskQueue,
        input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(10) } },
      });
      // The run is spawning: some of its task workflows have started. The run writes their rows
      // in one transaction once the batch has started, so the kill finds all ten rows or none.
      const taskIds = Array.from({ length: 10 }, (_, i) => `task:${workflowId}:review:${i}`);
      await waitFor(
        async () => {
          const started = await Promise.all(
            taskIds.map((id) =>
              h.client.workflow
                .getHandle(id)
                .describe()
                .then(
                  () => 1,
                  () => 0,
                ),
            ),
          );
          return started.reduce((a: number, b: number) => a + b, 0);
        },
        {
          what: `at least 2 task workflows of run ${workflowId} before the kill`,
          until: (n) => n >= 2,
          timeoutMs: STEP_MS,
          intervalMs: 10,
        },
      );
      worker.kill('SIGKILL');
      expect(await within(exited, { what: `the worker process (pid ${worker.pid}) to die of SIGKILL` })).toBe(
        'SIGKILL',
      );
      const before = await h.db
        .selectFrom('task_instances')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect([0, 10]).toContain(Number(before.n));

      await h.startWorker();
      const result = await workflowResult(h.client, workflowId, STEP_MS);
      expect(result).toMatchObject({ status: 'succeeded', tasksPlanned: 10, tasksStarted: 10 });
      const run = await getRunByWorkflowId(h.db, workflowId);
      await waitFor(async () => (await listTasks(h.db, { runId: run.id })).items.length, {
        what: `10 task rows of run ${run.id}`,
        until: (n) => n >= 10,
        timeoutMs: STEP_MS,
      });
      await h.waitForTaskMessages(10, STEP_MS);

      const tasks = (await listTasks(h.db, { runId: run.id, limit: 100 })).items;
      expect(tasks).toHaveLength(10);
      expect(new Set(tasks.map((t) => t.index))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
      const created = (await h.taskMessages()).filter((m) => m.body.type === 'activitycore.task.created');
      expect(created).toHaveLength(10);
      expect(new Set(created.map((m) => (m.body.data as { id: string }).id))).toEqual(new Set(tasks.map((t) => t.id)));
      expect(new Set(created.map((m) => m.msgId)).size).toBe(10);
    },
    outlasting(PROCESS_START_MS, STEP_MS, WAIT_MS, STEP_MS, STEP_MS, STEP_MS),
  );

  test('health endpoints answer, and SIGTERM shuts the process down cleanly', async () => {
    const worker = await spawnWorker();
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    const port = Number(worker.readyLine.port);
    // No TEMPORAL_API_KEY in its environment: the ready line says so (it once said "[redacted]").
    expect(worker.readyLine.temporal).toMatchObject({ tls: 'off', apiKey: false });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { schedules: 'ok' },
      tzdata: process.versions.tz,
    });
    worker.kill('SIGTERM');
    expect(await within(exited, { what: `the worker process (pid ${worker.pid}) to exit after SIGTERM` })).toBe(0);
  });
});

describe('shutdown while a step keeps failing (issue 13: a retrying step held off Ctrl-C for minutes)', () => {
  /** The worker's force time, and the wait for its exit: force time + the process's own 10 s limit + slack. */
  const FORCE_MS = 3_000;
  const EXIT_MS = 60_000;
  test(
    'SIGTERM stops the worker process within its force time, exit 0, while recordRun fails and retries',
    async () => {
      // Every insert into runs fails with a serialization failure (40001): retryable, so the
      // first step of the run, a local activity, retries for as long as the worker lives. The
      // sequence counts the attempts (nextval is not rolled back with the insert).
      await sql`CREATE SEQUENCE held_attempts`.execute(h.db);
      await sql`CREATE FUNCTION hold_runs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('held_attempts'); RAISE EXCEPTION 'held by the test' USING ERRCODE = '40001'; END $$`.execute(
        h.db,
      );
      await sql`CREATE TRIGGER hold_runs BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION hold_runs()`.execute(h.db);
      const definition = await createOrderDefinition(h.db);
      const worker = await spawnWorker({
        AC_WORKER_SHUTDOWN_GRACE_MS: '1000',
        AC_WORKER_SHUTDOWN_FORCE_MS: String(FORCE_MS),
      });
      const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
      const { workflowId } = await startRunActivity(h.client, {
        taskQueue: h.taskQueue,
        input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(1) } },
      });
      try {
        await waitFor(
          async () => {
            const { rows } = await sql<{
              n: string;
            }>`SELECT last_value AS n FROM held_attempts WHERE is_called`.execute(h.db);
            return Number(rows[0]?.n ?? 0);
          },
          { what: `recordRun of ${workflowId} to fail and be retried at least twice`, until: (n) => n >= 3 },
        );
        worker.kill('SIGTERM');
        // The force time bounds the Temporal worker, the process's own limit (force + 10 s) the
        // rest; without them the retrying local activity held the process. Exit 0 means the
        // worker itself stopped in time, not the process's last-resort limit (exit 1).
        const code = await within(exited, {
          what: `the worker process (pid ${worker.pid}) to exit after SIGTERM`,
          timeoutMs: EXIT_MS,
          context: () => `--- worker stderr:\n${worker.output().slice(-3000)}`,
        });
        expect(code, worker.output().slice(-2_000)).toBe(0);
        expect(worker.output()).not.toContain('shutdown did not finish in time');
      } finally {
        if (worker.exitCode === null) worker.kill('SIGKILL');
        await h.client.workflow
          .getHandle(workflowId)
          .terminate('test over')
          .catch(() => undefined);
        await sql`DROP TRIGGER hold_runs ON runs`.execute(h.db);
      }
    },
    outlasting(PROCESS_START_MS, WAIT_MS, EXIT_MS),
  );
});
