import { ActivityDefinitionSpec } from '@activity-core/core';
import { archiveDefinition, createDefinition, listRuns, listTasks } from '@activity-core/db';
import { describeSchedule, reconcileDefinition, type ScheduleDeps, scheduleIdFor } from '@activity-core/schedules';
import { beforeAll, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { type Harness, waitFor } from '../worker/harness.ts';
import { useScheduleHarness } from './support.ts';

// One real fire of a Schedule with jitter: it waits for the next minute, so this file takes
// up to about a minute and runs beside the others.
const JITTER_SECONDS = 5;
const harness = useScheduleHarness();
let h: Harness;
let deps: ScheduleDeps;

beforeAll(() => {
  ({ h, deps } = harness());
});

test('a jittered schedule fires within its bound, and the run records nominal time and jitter', async () => {
  const expression = '* * * * *';
  const definition = await createDefinition(h.db, {
    spec: ActivityDefinitionSpec.parse({
      key: uniqueId('jit-'),
      name: 'every minute, jittered',
      trigger: {
        kind: 'cron',
        cron: {
          expression,
          timezone: 'UTC',
          jitterSeconds: JITTER_SECONDS,
          misfire: { policy: 'fire_once', graceSeconds: 60 },
        },
      },
      taskTemplates: [{ key: 'tick', title: 'Tick at {{ trigger.nominalTime }}' }],
    }),
  });
  try {
    expect(await reconcileDefinition(deps, definition.id)).toBe('created');
    // Temporal's upcoming action times carry the jitter; each lies within the bound after its nominal time.
    const described = await h.client.schedule
      .getHandle(scheduleIdFor(definition.id, deps.settings.scheduleIdPrefix))
      .describe();
    // Every minute: an action's nominal time is its minute, so the offset into the minute is the jitter.
    const actions = described.info.nextActionTimes;
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) {
      const jitter = action.getTime() % 60_000;
      expect(jitter).toBeLessThanOrEqual(JITTER_SECONDS * 1000);
    }

    const run = await waitFor(
      'the first scheduled run to finish',
      async () => (await listRuns(h.db, { definitionId: definition.id })).items.find((r) => r.status === 'succeeded'),
      100_000,
    );
    expect(run.triggerKind).toBe('cron');
    expect(run.nominalTime?.getUTCSeconds()).toBe(0);
    expect(run.workflowId).toBe(`run:${definition.id}:cron-${run.nominalTime?.toISOString().replace('.000Z', 'Z')}`);
    // The trigger key the workflow derived from the nominal time is the suffix Temporal gave the id.
    expect(`run:${definition.id}:${run.triggerKey}`).toBe(run.workflowId);
    expect(run.jitterMs).not.toBeNull();
    // Children insert their task after the run has started them.
    await waitFor(
      'the task of the scheduled run',
      async () => (await listTasks(h.db, { runId: run.id })).items.length === 1,
    );

    const state = await describeSchedule(deps, definition.id);
    const [fire] = state.recentFires;
    if (!fire) throw new Error('describeSchedule lists no recent fire after a run');
    const lateness = Date.parse(fire.takenAt) - Date.parse(fire.scheduledAt);
    // Temporal's jitter (scheduled − nominal) stays in its bound; the run records it plus the
    // scheduler's latency (started − nominal).
    const nominal = run.nominalTime?.getTime() ?? Number.NaN;
    const jitter = Date.parse(fire.scheduledAt) - nominal;
    expect(jitter).toBeGreaterThanOrEqual(0);
    expect(jitter).toBeLessThanOrEqual(JITTER_SECONDS * 1000);
    expect(run.jitterMs).toBeGreaterThanOrEqual(jitter);
    expect(run.jitterMs).toBeLessThanOrEqual(Date.parse(fire.takenAt) - nominal + 1000);
    process.stdout.write(
      `[schedules] jitter ${jitter} ms (bound ${JITTER_SECONDS * 1000}); fire lateness (taken - scheduled) ${lateness} ms; recorded jitterMs ${run.jitterMs}\n`,
    );
    expect(lateness).toBeGreaterThanOrEqual(0);
  } finally {
    await archiveDefinition(h.db, definition.id);
    expect(await reconcileDefinition(deps, definition.id)).toBe('deleted');
  }
});
