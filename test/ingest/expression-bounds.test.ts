import { ActivityDefinitionSpec, DEFAULT_INPUT_LIMITS, validateDefinitionSpec } from '@activity-core/core';
import { createDefinition, listTasks } from '@activity-core/db';
import type { RunningWorker } from '@activity-core/worker-service/worker';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { outlasting, PROCESS_START_MS, WAIT_MS, waitFor } from '../support/wait.ts';
import { startTestWorker } from '../worker/harness.ts';
import { type ChildIngest, createIngestHarness, type IngestHarness } from './harness.ts';

// Issue 20 on the real stack: the ingest service (its own process, default budget), the real
// worker, NATS, Temporal and PostgreSQL. Two definitions whose filters are worst cases — a
// catastrophic-backtracking regex and a nested `all` — beside normal ones; events that hit
// each worst case; then an unrelated event, which must still become a task. The latency is
// printed, not asserted (a loaded machine is not a stall): what shows the filters bounded is
// how each worst case ended — the nested `all` parked over its budget, the regex simply false
// in linear time — and that the unrelated event's task exists at all. Before issue 20 the
// regex alone held ingest for hours.
/** How long the unrelated event's task is awaited. */
const UNRELATED_WAIT_MS = 60_000;

let h: IngestHarness;
let ingest: ChildIngest;
let worker: RunningWorker;
let native: NativeConnection;

async function define(key: string, types: string[], filter?: string) {
  const spec = ActivityDefinitionSpec.parse({
    key,
    name: key,
    trigger: { kind: 'event', event: { types, ...(filter ? { filter } : {}) } },
    taskTemplates: [{ key: 'task', title: `{{ event.type }} for ${key}` }],
  });
  // Written straight to the table, as a definition saved before issue 20 (or under a larger
  // limit) would be: the run-time budget must hold whatever passed at save time.
  return createDefinition(h.db, { spec });
}

async function taskCount(definitionId: string): Promise<number> {
  return (await listTasks(h.db, { definitionId })).items.length;
}

/** Plain JSON: the body is the event's data, its type comes from the subject. */
function publish(type: string, data: unknown): Promise<unknown> {
  return h.js.publish(`${h.topology.events.subjectPrefix}${type}`, JSON.stringify(data), {
    msgID: uniqueId('m'),
  });
}

beforeAll(async () => {
  h = await createIngestHarness();
  native = await NativeConnection.connect({ address: stackInfo().temporalAddress });
  worker = await startTestWorker({
    connection: native,
    taskQueue: h.taskQueue,
    db: h.db,
    nc: h.nc,
    topology: h.topology,
  });
});

afterAll(async () => {
  await ingest?.stop();
  await worker?.shutdown();
  await native?.close();
  await h?.[Symbol.asyncDispose]();
});

describe('one bad definition never stalls the rest (issue 20)', () => {
  test(
    'worst-case filters are bounded, their events parked per definition, an unrelated event still becomes a task',
    async () => {
      const suffix = uniqueId('').toLowerCase().slice(-6);
      const regex = await define(`regex-${suffix}`, ['bounds.regex'], "event.data.s.matches('^(a+)+$')");
      const nestedFilter = 'event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))';
      const nested = await define(`nested-${suffix}`, ['bounds.nested'], nestedFilter);
      const sibling = await define(`sibling-${suffix}`, ['bounds.nested'], 'size(event.data.xs) > 0');
      const normal = await define(`normal-${suffix}`, ['bounds.normal']);
      // What the API would have said on save today.
      expect(validateDefinitionSpec(nested.spec).ok, 'the nested all is refused at save time').toBe(false);

      ingest = h.spawnIngest();
      await ingest.ready;

      // The worst cases: 40 characters take hours with a backtracking engine; a list as long as
      // the input limits let in (AC_INPUT_MAX_ELEMENTS, 1,000: a longer one is dead-lettered as
      // payload_too_large before any filter runs) is a million steps, over the default budget.
      // Then at once an unrelated event, timed until its task exists.
      await publish('bounds.regex', { s: `${'a'.repeat(40)}!` });
      await publish('bounds.nested', { xs: Array.from({ length: DEFAULT_INPUT_LIMITS.maxListElements }, (_, i) => i) });
      const t0 = Date.now();
      await publish('bounds.normal', { n: 1 });
      await waitFor(() => taskCount(normal.id), {
        what: `the task of definition ${normal.key} from the unrelated event`,
        until: (n) => n === 1,
        timeoutMs: UNRELATED_WAIT_MS,
      });
      const latency = Date.now() - t0;
      console.log(`[issue 20] unrelated event to task after both worst cases: ${latency} ms`);

      // The nested filter ran out of its budget: parked for it alone, counted and labelled.
      await waitFor(() => taskCount(sibling.id), {
        what: `the task of sibling definition ${sibling.key} on the nested event`,
        until: (n) => n === 1,
      });
      await waitFor(async () => (await h.deadLetters()).map((d) => d.header('Ac-Dlq-Reason')), {
        what: `the filter_error dead letter for definition ${nested.key}`,
        until: (reasons) => reasons.includes('filter_error'),
      });
      const parked = (await h.deadLetters()).filter((d) => d.header('Ac-Dlq-Reason') === 'filter_error');
      expect(parked).toHaveLength(1);
      const letter = parked[0];
      expect(letter?.header('Ac-Dlq-Definition')).toBe(nested.key);
      expect(letter?.header('Ac-Dlq-Message')).toContain('budget');
      expect(letter?.header('Ac-Dlq-Field')).toBe('trigger.event.filter');
      expect(letter?.subject).toBe(`${h.topology.dlq.subjectPrefix}bounds.nested`);
      // Counted per delivery: a redelivery (a start that timed out on a loaded machine) counts
      // again, while the dead letter's message id keeps that one.
      expect(
        await ingest.metric('ac_ingest_filter_errors_total', `definition="${nested.key}",code="budget"`),
      ).toBeGreaterThanOrEqual(1);
      expect(await taskCount(nested.id)).toBe(0);

      // The regex filter was simply false (RE2, linear time): no error, no run. A matching
      // subject starts a run like any other.
      expect(await taskCount(regex.id)).toBe(0);
      await publish('bounds.regex', { s: 'a'.repeat(40) });
      await waitFor(() => taskCount(regex.id), {
        what: `the task of regex definition ${regex.key} on "a…a"`,
        until: (n) => n === 1,
      });
      expect(await ingest.metric('ac_ingest_filter_errors_total', `definition="${regex.key}",code="budget"`)).toBe(0);
    },
    outlasting(PROCESS_START_MS, UNRELATED_WAIT_MS, WAIT_MS, WAIT_MS, WAIT_MS),
  );
});
