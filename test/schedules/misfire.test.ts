import { ActivityDefinitionSpec, previewSchedule } from '@activity-core/core';
import { createDefinition, listRuns, listTasks, type RunRecord, readRunLog } from '@activity-core/db';
import { backfillSchedule, reconcileDefinition, type ScheduleDeps } from '@activity-core/schedules';
import { beforeAll, describe, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';
import type { Harness } from '../worker/harness.ts';
import { useScheduleHarness } from './support.ts';

// Misfire policies on the real stack: a Schedule, the real worker, and a backfill of past
// occurrences standing in for an outage (each backfilled run carries its nominal time and
// starts late, exactly like occurrences Temporal catches up after downtime).
const harness = useScheduleHarness();
let h: Harness;
let deps: ScheduleDeps;

beforeAll(() => {
  ({ h, deps } = harness());
});

/**
 * Four consecutive past minutes in one hour, as a cron that fires on them only: its next
 * occurrence is a year away, so nothing fires on its own during the test and the newest of
 * the four has no newer occurrence already due.
 */
function pastMinutes(): { expression: string; first: Date; last: Date } {
  let last = new Date(Math.floor((Date.now() - 6 * 60_000) / 60_000) * 60_000);
  if (last.getUTCMinutes() < 3) last = new Date(last.getTime() - 4 * 60_000);
  const first = new Date(last.getTime() - 3 * 60_000);
  const m = last.getUTCMinutes();
  const expression = `${m - 3}-${m} ${last.getUTCHours()} ${last.getUTCDate()} ${last.getUTCMonth() + 1} *`;
  return { expression, first, last };
}

async function cronDefinition(policy: 'skip' | 'fire_once' | 'fire_all', maxCatchUp = 10) {
  const window = pastMinutes();
  const spec = ActivityDefinitionSpec.parse({
    key: uniqueId('mf-'),
    name: `misfire ${policy}`,
    trigger: {
      kind: 'cron',
      cron: { expression: window.expression, timezone: 'UTC', misfire: { policy, graceSeconds: 30, maxCatchUp } },
    },
    taskTemplates: [{ key: 'check', title: 'Check {{ trigger.nominalTime }}' }],
  });
  const definition = await createDefinition(h.db, { spec });
  expect(await reconcileDefinition(deps, definition.id)).toBe('created');
  return { definition, window };
}

async function backfillAndSettle(definitionId: string, window: { first: Date; last: Date }): Promise<RunRecord[]> {
  await backfillSchedule(deps, definitionId, {
    start: new Date(window.first.getTime() - 30_000),
    end: new Date(window.last.getTime() + 30_000),
  });
  return waitFor(
    async () => {
      const page = await listRuns(h.db, { definitionId, limit: 50 });
      return page.items.filter((r) => ['succeeded', 'skipped', 'coalesced', 'failed'].includes(r.status));
    },
    {
      what: `four finished runs of definition ${definitionId}, backfilled ${window.first.toISOString()}–${window.last.toISOString()}`,
      until: (finished) => finished.length === 4,
    },
  );
}

/**
 * The definition's task rows once there are at least `n`. Every run has finished by then and
 * skipped or coalesced runs start no children, so only the spawning runs' rows can appear.
 */
async function tasksOf(definitionId: string, n: number) {
  return waitFor(async () => (await listTasks(h.db, { definitionId })).items, {
    what: `${n} task rows of definition ${definitionId}`,
    until: (items) => items.length >= n,
  });
}

function byNominal(runs: RunRecord[]): RunRecord[] {
  return [...runs].sort((a, b) => (a.nominalTime?.getTime() ?? 0) - (b.nominalTime?.getTime() ?? 0));
}

describe('misfire policies after an outage', () => {
  test('skip: every late occurrence is recorded as skipped and spawns nothing', async () => {
    const { definition, window } = await cronDefinition('skip');
    const runs = byNominal(await backfillAndSettle(definition.id, window));
    expect(runs.map((r) => r.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    const expected = previewSchedule(
      { expression: window.expression, timezone: 'UTC' },
      new Date(window.first.getTime() - 1),
      4,
    );
    expect(runs.map((r) => r.nominalTime?.toISOString())).toEqual(expected.map((d) => d.toISOString()));
    expect((await listTasks(h.db, { definitionId: definition.id })).items).toHaveLength(0);
    for (const run of runs) {
      const log = await readRunLog(h.db, run.id);
      expect(log.map((e) => e.kind)).toContain('misfire_skipped');
    }
  });

  test('fire_once: of the late streak exactly the newest spawns, the rest are coalesced', async () => {
    const { definition, window } = await cronDefinition('fire_once');
    const runs = byNominal(await backfillAndSettle(definition.id, window));
    expect(runs.map((r) => r.status)).toEqual(['coalesced', 'coalesced', 'coalesced', 'succeeded']);
    // A run finishes once its children have started; each child writes its task row after that.
    const tasks = await tasksOf(definition.id, 1);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.runId).toBe(runs[3]?.id);
    const log = await readRunLog(h.db, runs[0]?.id as string);
    expect(log.map((e) => e.kind)).toContain('misfire_coalesced');
  });

  test('fire_all: each late occurrence spawns, up to the cap; older ones are skipped', async () => {
    const { definition, window } = await cronDefinition('fire_all', 2);
    const runs = byNominal(await backfillAndSettle(definition.id, window));
    expect(runs.map((r) => r.status)).toEqual(['skipped', 'skipped', 'succeeded', 'succeeded']);
    const tasks = await tasksOf(definition.id, 2);
    expect(tasks.map((t) => t.runId).sort()).toEqual([runs[2]?.id, runs[3]?.id].sort());
  });
});
