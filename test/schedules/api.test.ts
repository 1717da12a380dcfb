import { type ActivityCoreClient, TRPCClientError } from '@activity-core/client';
import { listRuns, listTasks } from '@activity-core/db';
import { describe, expect, test } from 'vitest';
import { useApiOnHarness } from '../api/support.ts';
import { uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';
import type { Harness } from '../worker/harness.ts';

// Schedules through the API, with its default definition hook (reconcile at once) and a real
// worker on the same task queue.
let h: Harness;
let ac: ActivityCoreClient;

useApiOnHarness((harness, started) => {
  h = harness;
  ac = started.client;
});

function cronSpec(key: string, expression = '0 4 * * *') {
  return {
    key,
    name: 'nightly',
    trigger: { kind: 'cron' as const, cron: { expression, timezone: 'America/New_York' } },
    taskTemplates: [{ key: 'sweep', title: 'Sweep {{ trigger.nominalTime }}' }],
  };
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof TRPCClientError ? (error.data as { code?: string } | undefined)?.code : String(error);
  }
}

describe('schedules through the API', () => {
  test('create makes the schedule; its next fires are the preview; disable pauses, enable resumes', async () => {
    const definition = await ac.definitions.create.mutate({ spec: cronSpec(uniqueId('n-')) });
    const state = await ac.schedules.describe.query({ definitionId: definition.id });
    expect(state.paused).toBe(false);
    const preview = await ac.definitions.previewSchedule.query({
      definitionId: definition.id,
      count: state.nextFireTimes.length,
    });
    expect(state.nextFireTimes).toEqual(preview.times);
    await ac.definitions.setEnabled.mutate({ id: definition.id, enabled: false });
    expect((await ac.schedules.describe.query({ definitionId: definition.id })).paused).toBe(true);
    await ac.definitions.setEnabled.mutate({ id: definition.id, enabled: true });
    expect((await ac.schedules.describe.query({ definitionId: definition.id })).paused).toBe(false);
  });

  test('trigger now starts a cron run that spawns its task', async () => {
    const definition = await ac.definitions.create.mutate({ spec: cronSpec(uniqueId('t-')) });
    await ac.schedules.trigger.mutate({ definitionId: definition.id });
    const run = await waitFor(
      async () => (await listRuns(h.db, { definitionId: definition.id })).items.find((r) => r.status === 'succeeded'),
      { what: `a succeeded run of definition ${definition.id}, triggered now` },
    );
    expect(run.triggerKind).toBe('cron');
    // Children insert their task after the run has started them.
    await waitFor(async () => (await listTasks(h.db, { runId: run.id })).items.length, {
      what: `the task row of the triggered run ${run.id}`,
      until: (n) => n === 1,
    });
    const state = await ac.schedules.describe.query({ definitionId: definition.id });
    expect(state.firesTaken).toBe(1);
    expect(state.runsByStatus).toEqual({ succeeded: 1 });
  });

  test('backfill refuses a range that ends in the future or is reversed, naming the field', async () => {
    const definition = await ac.definitions.create.mutate({ spec: cronSpec(uniqueId('b-')) });
    const now = Date.now();
    const future = ac.schedules.backfill.mutate({
      definitionId: definition.id,
      start: new Date(now - 3_600_000).toISOString(),
      end: new Date(now + 3_600_000).toISOString(),
    });
    expect(await errorCode(future)).toBe('BAD_REQUEST');
    const reversed = ac.schedules.backfill.mutate({
      definitionId: definition.id,
      start: new Date(now - 1_000).toISOString(),
      end: new Date(now - 3_600_000).toISOString(),
    });
    expect(await errorCode(reversed)).toBe('BAD_REQUEST');
  });

  test('the preview marks what the DST policy did; describe shows the compiled window and tz data', async () => {
    const preview = await ac.definitions.previewSchedule.query({
      cron: { expression: '30 2 * * *', timezone: 'America/New_York', dst: { fold: 'both' } },
      from: '2027-03-13T12:00:00Z',
      count: 1,
    });
    expect(preview.dst).toEqual({ gap: 'shift', fold: 'both' });
    expect(preview.occurrences).toEqual([
      {
        at: '2027-03-14T07:00:00.000Z',
        local: '2027-03-14T03:00:00-04:00',
        dst: 'shifted',
        shiftedFrom: ['2027-03-14T02:30'],
      },
    ]);
    const definition = await ac.definitions.create.mutate({ spec: cronSpec(uniqueId('w-')) });
    const state = await ac.schedules.describe.query({ definitionId: definition.id });
    expect(state.tzdata).toEqual({ compiledWith: process.versions.tz, current: process.versions.tz });
    expect(state.horizon.remainingDays).toBeGreaterThanOrEqual(360);
    expect(state.dst).toEqual({ gap: 'shift', fold: 'first' });
  });

  test('backfill refuses a range that starts before the compiled window, naming start', async () => {
    const definition = await ac.definitions.create.mutate({ spec: cronSpec(uniqueId('o-')) });
    const old = ac.schedules.backfill.mutate({
      definitionId: definition.id,
      start: '2020-01-01T00:00:00Z',
      end: new Date(Date.now() - 60_000).toISOString(),
    });
    const error = await old.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof TRPCClientError)) throw new Error(`expected a TRPCClientError, got ${String(error)}`);
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect((error.data?.fieldErrors as Array<{ path: string }> | undefined)?.map((f) => f.path)).toEqual(['start']);
  });

  test('archiving deletes the schedule; event definitions have none', async () => {
    const definition = await ac.definitions.create.mutate({ spec: cronSpec(uniqueId('a-')) });
    await ac.definitions.archive.mutate({ id: definition.id });
    expect(await errorCode(ac.schedules.describe.query({ definitionId: definition.id }))).toBe('NOT_FOUND');
    const eventDefinition = await ac.definitions.create.mutate({
      spec: {
        key: uniqueId('e-'),
        name: 'event',
        trigger: { kind: 'event', event: { types: ['thing.happened'] } },
        taskTemplates: [{ key: 'x', title: 'x' }],
      },
    });
    expect(await errorCode(ac.schedules.describe.query({ definitionId: eventDefinition.id }))).toBe('NOT_FOUND');
    expect(await errorCode(ac.schedules.trigger.mutate({ definitionId: eventDefinition.id }))).toBe('NOT_FOUND');
  });
});
