import { ActivityDefinitionSpec } from '@activity-core/core';
import { archiveDefinition, createDefinition, listRuns, listTasks } from '@activity-core/db';
import { describeSchedule, reconcileDefinition, type ScheduleDeps, scheduleIdFor } from '@activity-core/schedules';
import { beforeAll, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { outlasting, WAIT_MS, waitFor } from '../support/wait.ts';
import type { Harness } from '../worker/harness.ts';
import { useScheduleHarness } from './support.ts';

// One real fire of a Schedule with jitter: it waits for the next minute, so this file takes
// up to about a minute and runs beside the others.
const JITTER_SECONDS = 5;
/** From the first fire's time (known from the Schedule) to its finished run. */
const RUN_WAIT_MS = 60_000;
/** The first fire: the next minute plus jitter at most; then the run, then its task. */
const TEST_TIMEOUT_MS = outlasting(60_000 + JITTER_SECONDS * 1000, RUN_WAIT_MS, WAIT_MS);
const harness = useScheduleHarness();
let h: Harness;
let deps: ScheduleDeps;

beforeAll(() => {
  ({ h, deps } = harness());
});

test(
  'a jittered schedule fires within its bound, and the run records nominal time and jitter',
  async () => {
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

      // The first fire is known: the next nominal minute, at the jittered time Temporal shows.
      const [firstAt] = actions;
      if (!firstAt) throw new Error('the Schedule lists no upcoming fire');
      const nominalIso = new Date(Math.floor(firstAt.getTime() / 60_000) * 60_000).toISOString();
      const run = await waitFor(
        async () =>
          (await listRuns(h.db, { definitionId: definition.id })).items.find(
            (r) => r.nominalTime?.toISOString() === nominalIso,
          ),
        {
          what: `the finished run of the fire at ${firstAt.toISOString()} (nominal ${nominalIso}) of definition ${definition.id}`,
          until: (r) => r?.status === 'succeeded',
          timeoutMs: firstAt.getTime() - Date.now() + RUN_WAIT_MS,
        },
      );
      if (!run) throw new Error('unreachable: waitFor returned without a run');
      expect(run.triggerKind).toBe('cron');
      expect(run.nominalTime?.getUTCSeconds()).toBe(0);
      expect(run.workflowId).toBe(`run:${definition.id}:cron-${run.nominalTime?.toISOString().replace('.000Z', 'Z')}`);
      // The trigger key the workflow derived from the nominal time is the suffix Temporal gave the id.
      expect(`run:${definition.id}:${run.triggerKey}`).toBe(run.workflowId);
      expect(run.jitterMs).not.toBeNull();
      // Children insert their task after the run has started them.
      await waitFor(async () => (await listTasks(h.db, { runId: run.id })).items.length, {
        what: `the task row of the scheduled run ${run.id}`,
        until: (n) => n === 1,
      });

      const state = await describeSchedule(deps, definition.id);
      // Later fires may be listed too (the next minute can come while this test looks).
      const fire = state.recentFires.find((f) => f.workflowId === run.workflowId);
      if (!fire)
        throw new Error(`describeSchedule lists no fire of ${run.workflowId}: ${JSON.stringify(state.recentFires)}`);
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
  },
  TEST_TIMEOUT_MS,
);
