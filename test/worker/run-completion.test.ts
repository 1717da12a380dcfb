// "Succeeded means done" under a backlog: runs started while no worker runs, then worked off
// at once. Whenever a run is seen `succeeded` (watched in consistent snapshots the whole time,
// not only at the end), every task it planned has its row and its `tasks.created` outbox row,
// and its log has every `task_created` before `run_finished`.
import { startRunActivity } from '@activity-core/workflows';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { workflowResult } from '../support/temporal.ts';
import { outlasting, WAIT_MS, waitFor } from '../support/wait.ts';
import { createHarness, createOrderDefinition, type Harness, orderEvent } from './harness.ts';

/** Runs in the backlog, and tasks per run (1 … 5): 120 task workflows queued behind 40 runs. */
const RUNS = 40;
const itemsOf = (i: number) => 1 + (i % 5);
/** How long the worker may take to work the backlog off on a loaded machine. */
const BACKLOG_MS = 4 * WAIT_MS;

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

interface SucceededRun {
  readonly workflow_id: string;
  readonly planned: number | null;
  readonly tasks: number;
  readonly created_events: number;
  readonly created_entries: number;
  readonly last_created_seq: number | null;
  readonly finished_seq: number | null;
}

/** Every succeeded run of the definition as one statement sees it (one snapshot). */
async function succeededRuns(definitionId: string): Promise<SucceededRun[]> {
  const { rows } = await sql<SucceededRun>`
    select r.workflow_id,
      (r.summary->>'tasksPlanned')::int as planned,
      (select count(*)::int from task_instances t where t.run_id = r.id) as tasks,
      (select count(*)::int from outbox o join task_instances t on o.body->>'subject' = t.id::text
        where t.run_id = r.id and o.body->>'type' = 'activitycore.task.created') as created_events,
      (select count(*)::int from run_log_entries e where e.run_id = r.id and e.kind = 'task_created') as created_entries,
      (select max(seq) from run_log_entries e where e.run_id = r.id and e.kind = 'task_created') as last_created_seq,
      (select min(seq) from run_log_entries e where e.run_id = r.id and e.kind = 'run_finished') as finished_seq
    from runs r where r.definition_id = ${definitionId} and r.status = 'succeeded'`.execute(h.db);
  return rows;
}

/** What is wrong with a succeeded run, if anything, given the tasks its trigger asked for. */
function problems(run: SucceededRun, expected: number): string[] {
  const found: string[] = [];
  if (run.planned !== expected) found.push(`planned ${run.planned}, expected ${expected}`);
  if (run.tasks !== expected) found.push(`${run.tasks} of ${expected} task rows`);
  if (run.created_events !== expected) found.push(`${run.created_events} of ${expected} tasks.created outbox rows`);
  if (run.created_entries !== expected) found.push(`${run.created_entries} of ${expected} task_created entries`);
  if (run.finished_seq === null) found.push('no run_finished entry');
  else if (run.last_created_seq !== null && run.last_created_seq > run.finished_seq) {
    found.push(`task_created #${run.last_created_seq} after run_finished #${run.finished_seq}`);
  }
  return found.map((p) => `${run.workflow_id}: ${p}`);
}

describe('run completion under a backlog', () => {
  test(
    'a run is succeeded only once every task row, outbox event and task_created entry exists',
    async () => {
      const definition = await createOrderDefinition(h.db);
      const expected = new Map<string, number>();
      // No worker yet: every run and (later) every task workflow waits in the queue.
      for (let i = 0; i < RUNS; i++) {
        const { workflowId } = await startRunActivity(h.client, {
          taskQueue: h.taskQueue,
          input: { definitionId: definition.id, trigger: { kind: 'event', envelope: orderEvent(itemsOf(i)) } },
        });
        expected.set(workflowId, itemsOf(i));
      }

      const violations = new Set<string>();
      const seen = new Set<string>();
      let watching = true;
      const watch = (async () => {
        while (watching) {
          for (const run of await succeededRuns(definition.id)) {
            seen.add(run.workflow_id);
            for (const p of problems(run, expected.get(run.workflow_id) ?? -1)) violations.add(p);
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();

      try {
        await h.startWorker();
        // All at once: the backlog is worked off in parallel, each run gets the whole wait.
        const results = await Promise.all(
          [...expected.keys()].map((workflowId) => workflowResult(h.client, workflowId, BACKLOG_MS)),
        );
        expect(results.map((r) => [r.status, r.tasksPlanned])).toEqual(
          [...expected.values()].map((n) => ['succeeded', n]),
        );
        await waitFor(() => seen.size, {
          what: `the watcher to see all ${RUNS} runs succeeded`,
          until: (n) => n === RUNS,
        });
      } finally {
        watching = false;
        await watch;
      }
      const final = await succeededRuns(definition.id);
      expect(final).toHaveLength(RUNS);
      expect([...violations, ...final.flatMap((run) => problems(run, expected.get(run.workflow_id) ?? -1))]).toEqual(
        [],
      );
    },
    outlasting(BACKLOG_MS, WAIT_MS),
  );
});
