import { ActivityDefinitionSpec } from '@activity-core/core';
import { archiveDefinition, createDefinition, listRuns, updateDefinition } from '@activity-core/db';
import { reconcileDefinition, reconcileFrom, type ScheduleDeps, scheduleIdFor } from '@activity-core/schedules';
import { beforeAll, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { type Harness, waitFor } from '../worker/harness.ts';
import { useScheduleHarness } from './support.ts';

// temporalio/temporal#4866: an update between an occurrence's nominal time and its jittered
// time used to drop that occurrence. Updating a definition must neither drop nor double a
// fire that is already due. Real time: this file waits for up to about two minutes.
const JITTER_SECONDS = 40;
const harness = useScheduleHarness();
let h: Harness;
let deps: ScheduleDeps;

beforeAll(() => {
  ({ h, deps } = harness());
});

function spec(key: string, title: string): ActivityDefinitionSpec {
  return ActivityDefinitionSpec.parse({
    key,
    name: 'every minute, widely jittered',
    trigger: {
      kind: 'cron',
      cron: {
        expression: '* * * * *',
        timezone: 'UTC',
        jitterSeconds: JITTER_SECONDS,
        misfire: { policy: 'fire_all', graceSeconds: 3600, maxCatchUp: 10 },
      },
    },
    taskTemplates: [{ key: 'tick', title }],
  });
}

test('an update between an occurrence’s nominal and jittered time neither drops nor doubles it', async () => {
  const key = uniqueId('upd-');
  const definition = await createDefinition(h.db, { spec: spec(key, 'v1') });
  try {
    expect(await reconcileDefinition(deps, definition.id)).toBe('created');
    const handle = h.client.schedule.getHandle(scheduleIdFor(definition.id, deps.settings.scheduleIdPrefix));
    // An upcoming occurrence whose jitter leaves room to update in between.
    const now = Date.now();
    const target = (await handle.describe()).info.nextActionTimes
      .map((at) => ({ at: at.getTime(), nominal: Math.floor(at.getTime() / 60_000) * 60_000 }))
      .find((o) => o.at - o.nominal >= 6_000 && o.nominal > now + 2_000);
    if (!target) throw new Error('no upcoming occurrence with at least 6 s of jitter among the next ten');
    await new Promise((r) => setTimeout(r, target.nominal + 2_000 - Date.now()));
    expect(Date.now()).toBeLessThan(target.at - 1_000);

    const updated = await updateDefinition(h.db, { id: definition.id, expectedVersion: 1, spec: spec(key, 'v2') });
    expect(await reconcileFrom(deps, definition.id, updated)).toBe('updated');

    const nominalIso = new Date(target.nominal).toISOString();
    const run = await waitFor(
      `the run of ${nominalIso}`,
      async () =>
        (await listRuns(h.db, { definitionId: definition.id })).items.find(
          (r) => r.nominalTime?.toISOString() === nominalIso,
        ),
      target.at - Date.now() + 30_000,
    );
    expect(run.definitionVersion).toBe(2);
    // A repeated start of the same occurrence would reuse its workflow id and run row; what
    // an update could double is an older occurrence fired again, late.
    const runs = (await listRuns(h.db, { definitionId: definition.id })).items;
    expect(runs.filter((r) => r.nominalTime?.toISOString() === nominalIso)).toHaveLength(1);
    // Nothing older than the update's occurrence was fired late by the update either.
    expect(runs.every((r) => (r.nominalTime?.getTime() ?? 0) >= target.nominal)).toBe(true);
  } finally {
    await archiveDefinition(h.db, definition.id);
    await reconcileDefinition(deps, definition.id);
  }
});
