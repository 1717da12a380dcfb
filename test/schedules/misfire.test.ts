import {
  ActivityDefinitionSpec,
  cronSchedule,
  occurrencesBetween,
  previewSchedule,
  TimeZone,
  type ZoneTransition,
} from '@activity-core/core';
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

/**
 * The most recent DST change (of the kind asked for) among zones that change in the small
 * hours, at least three hours ago, so that a backfill around it lies wholly in the past.
 */
function recentTransition(kind: 'gap' | 'fold'): { timezone: string; transition: ZoneTransition } {
  const now = Date.now();
  let best: { timezone: string; transition: ZoneTransition } | undefined;
  for (const timezone of [
    'America/New_York',
    'Europe/Berlin',
    'Europe/London',
    'Australia/Sydney',
    'Pacific/Auckland',
  ]) {
    for (const transition of TimeZone.of(timezone).transitions(now - 200 * 86_400_000, now - 3 * 3_600_000)) {
      if (transition.after > transition.before !== (kind === 'gap')) continue;
      if (!best || transition.at > best.transition.at) best = { timezone, transition };
    }
  }
  if (!best) throw new Error(`no ${kind} in the last 200 days among the zones`);
  return best;
}

/** `*&#47;30` over the local hours around the transition, on its local date only. */
function aroundTransition(timezone: string, at: number): string {
  const zone = TimeZone.of(timezone);
  const local = (ms: number) => new Date(zone.wallAt(ms));
  const from = local(at - 90 * 60_000);
  const to = local(at + 90 * 60_000);
  return `*/30 ${from.getUTCHours()}-${to.getUTCHours()} ${from.getUTCDate()} ${from.getUTCMonth() + 1} *`;
}

describe('misfire and backfill across a DST change, on the real stack', () => {
  // The compiled window must reach back to the transition: up to seven months here.
  const wideDeps = (): ScheduleDeps => ({ ...deps, settings: { ...deps.settings, lookbackMonths: 7 } });

  async function backfillAround(
    kind: 'gap' | 'fold',
    dst: { gap: 'shift' | 'skip'; fold: 'first' | 'last' | 'both' },
    misfire: { policy: 'fire_once' | 'fire_all'; maxCatchUp?: number },
  ) {
    const { timezone, transition } = recentTransition(kind);
    const expression = aroundTransition(timezone, transition.at);
    const cron = { expression, timezone, dst, misfire: { graceSeconds: 30, ...misfire } };
    const spec = ActivityDefinitionSpec.parse({
      key: uniqueId('dst-'),
      name: `backfill across a ${kind}`,
      trigger: { kind: 'cron', cron },
      taskTemplates: [{ key: 'check', title: 'Check {{ trigger.nominalTime }}' }],
    });
    const definition = await createDefinition(h.db, { spec });
    const d = wideDeps();
    expect(await reconcileDefinition(d, definition.id)).toBe('created');
    const start = new Date(transition.at - 3 * 3_600_000);
    const end = new Date(transition.at + 3 * 3_600_000);
    const expected = occurrencesBetween(cronSchedule(cron), start.getTime() - 1, end.getTime());
    await backfillSchedule(d, definition.id, { start, end });
    const runs = await waitFor(
      async () => {
        const page = await listRuns(h.db, { definitionId: definition.id, limit: 50 });
        return page.items.filter((r) => ['succeeded', 'skipped', 'coalesced', 'failed'].includes(r.status));
      },
      {
        what: `${expected.length} finished runs of ${expression} @ ${timezone} (definition ${definition.id})`,
        until: (finished) => finished.length >= expected.length,
      },
    );
    return { definition, expected, runs: byNominal(runs), timezone, expression };
  }

  test('a fold with fold: both replays both instants of each repeated time; fire_all keeps the newest', async () => {
    const { expected, runs } = await backfillAround(
      'fold',
      { gap: 'shift', fold: 'both' },
      { policy: 'fire_all', maxCatchUp: 3 },
    );
    expect(expected.filter((o) => o.kind === 'repeated').length).toBeGreaterThanOrEqual(4);
    // Temporal replayed exactly the engine's occurrences: both 01:30s, nothing else.
    expect(runs.map((r) => r.nominalTime?.toISOString())).toEqual(expected.map((o) => new Date(o.at).toISOString()));
    expect(new Set(runs.map((r) => r.workflowId)).size).toBe(runs.length);
    const statuses = runs.map((r) => r.status);
    expect(statuses.slice(-3)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(statuses.slice(0, -3).every((s) => s === 'skipped')).toBe(true);
  });

  test('a gap with gap: shift replays the shifted fire once; fire_once coalesces all but the newest', async () => {
    const { expected, runs } = await backfillAround('gap', { gap: 'shift', fold: 'first' }, { policy: 'fire_once' });
    expect(expected.some((o) => o.kind === 'shifted')).toBe(true);
    expect(runs.map((r) => r.nominalTime?.toISOString())).toEqual(expected.map((o) => new Date(o.at).toISOString()));
    const statuses = runs.map((r) => r.status);
    expect(statuses.at(-1)).toBe('succeeded');
    expect(statuses.slice(0, -1).every((s) => s === 'coalesced')).toBe(true);
  });

  test('a backfill before the compiled window is refused, not silently empty', async () => {
    const { definition } = await cronDefinition('skip');
    const start = new Date(Date.UTC(2000, 0, 1));
    await expect(backfillSchedule(deps, definition.id, { start, end: new Date(Date.now() - 60_000) })).rejects.toThrow(
      /before the Schedule's compiled window/,
    );
  });
});
