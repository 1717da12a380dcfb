import { ActivityDefinitionSpec } from '@activity-core/core';
import {
  archiveDefinition,
  createDefinition,
  type DefinitionRecord,
  listRuns,
  updateDefinition,
} from '@activity-core/db';
import { reconcileDefinition, reconcileFrom, type ScheduleDeps, scheduleIdFor } from '@activity-core/schedules';
import { beforeAll, expect, test } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { executionCount } from '../support/temporal.ts';
import { outlasting, sleep, WAIT_MS, waitFor, within } from '../support/wait.ts';
import type { Harness } from '../worker/harness.ts';
import { useScheduleHarness } from './support.ts';

// temporalio/temporal#4866: an update between an occurrence's nominal time and its jittered
// time used to drop that occurrence. Updating a definition must neither drop nor double a
// fire that is already due, and the fire must run on the new version.
//
// The occurrence is arranged, not waited for: a definition whose cron names one minute only
// (the next one), so its Schedule has exactly one occurrence within a year and Temporal's
// jitter for it is not capped by a following one. The server derives that jitter from the
// namespace id, the schedule id and the nominal time (service/worker/scheduler/spec.go,
// addJitter), so it is fixed once the Schedule exists and `describe()` shows it. A fresh
// definition (new id, new schedule id, new jitter) is tried until the jitter leaves room to
// update in between; about three in five do, and trying costs no waiting.
const JITTER_MS = 40_000;
/** Room for the update between the nominal time (plus {@link UPDATE_AFTER_NOMINAL_MS}) and the fire. */
const MIN_JITTER_MS = 15_000;
const UPDATE_AFTER_NOMINAL_MS = 1_000;
/** The target minute starts at least this long after a try begins, so the Schedule exists before it. */
const LEAD_MS = 5_000;
/** Tries, each a few requests: a fresh definition and its Schedule, described, discarded if unfit. */
const ARRANGE_MS = 30_000;
/** Beyond {@link ARRANGE_MS}, for a last try whose requests hang. */
const REQUEST_MS = 10_000;
/** From the jittered time to the run row, and to Temporal's record of the action. */
const RUN_WAIT_MS = 60_000;
/**
 * Arranging, the wait for the target minute, the jitter (the update and the run's wait share
 * it), the run, the Schedule's record, the visibility count, one after another.
 */
const TEST_TIMEOUT_MS = outlasting(
  ARRANGE_MS + REQUEST_MS,
  60_000 + LEAD_MS + UPDATE_AFTER_NOMINAL_MS,
  JITTER_MS + RUN_WAIT_MS,
  WAIT_MS,
  WAIT_MS,
);

const harness = useScheduleHarness();
let h: Harness;
let deps: ScheduleDeps;

beforeAll(() => {
  ({ h, deps } = harness());
});

function spec(key: string, nominal: Date, title: string): ActivityDefinitionSpec {
  const at = `${nominal.getUTCMinutes()} ${nominal.getUTCHours()} ${nominal.getUTCDate()} ${nominal.getUTCMonth() + 1} *`;
  return ActivityDefinitionSpec.parse({
    key,
    name: 'one minute a year, widely jittered',
    trigger: {
      kind: 'cron',
      cron: {
        expression: at,
        timezone: 'UTC',
        jitterSeconds: JITTER_MS / 1000,
        misfire: { policy: 'fire_all', graceSeconds: 3600, maxCatchUp: 10 },
      },
    },
    taskTemplates: [{ key: 'tick', title }],
  });
}

const scheduleOf = (definitionId: string) =>
  h.client.schedule.getHandle(scheduleIdFor(definitionId, deps.settings.scheduleIdPrefix));

interface Occurrence {
  readonly definition: DefinitionRecord;
  readonly key: string;
  readonly nominal: Date;
  /** When Temporal will fire it (nominal + jitter), ms since the epoch. */
  readonly at: number;
}

/**
 * A definition whose one occurrence in the coming year is the next minute (at least
 * {@link LEAD_MS} away) and whose jitter is at least {@link MIN_JITTER_MS}. Unfit tries are
 * archived and their Schedules deleted at once.
 */
async function arrangeOccurrence(created: DefinitionRecord[]): Promise<Occurrence> {
  const tried: string[] = [];
  const deadline = Date.now() + ARRANGE_MS;
  while (Date.now() < deadline) {
    const nominal = new Date(Math.ceil((Date.now() + LEAD_MS) / 60_000) * 60_000);
    const key = uniqueId('upd-');
    const definition = await createDefinition(h.db, { spec: spec(key, nominal, 'v1') });
    created.push(definition);
    expect(await reconcileDefinition(deps, definition.id)).toBe('created');
    const [next] = (await scheduleOf(definition.id).describe()).info.nextActionTimes;
    const jitter = (next?.getTime() ?? Number.NaN) - nominal.getTime();
    // A Schedule made after its minute began shows next year's time instead: unfit too.
    if (jitter >= MIN_JITTER_MS && jitter < JITTER_MS) {
      return { definition, key, nominal, at: nominal.getTime() + jitter };
    }
    tried.push(`${nominal.toISOString()}+${jitter} ms`);
    await archiveDefinition(h.db, definition.id);
    expect(await reconcileDefinition(deps, definition.id)).toBe('deleted');
  }
  throw new Error(
    `no occurrence with ${MIN_JITTER_MS}–${JITTER_MS} ms of jitter in ${ARRANGE_MS} ms: ${tried.join(', ')}`,
  );
}

test(
  'an update between an occurrence’s nominal and jittered time neither drops nor doubles it',
  async () => {
    const created: DefinitionRecord[] = [];
    try {
      const target = await within(arrangeOccurrence(created), {
        what: `a Schedule whose next occurrence has ${MIN_JITTER_MS}–${JITTER_MS} ms of jitter`,
        timeoutMs: ARRANGE_MS + REQUEST_MS,
      });
      const { definition, nominal, at } = target;
      const nominalIso = nominal.toISOString();
      const occurrence = `the occurrence ${nominalIso} of definition ${definition.id} (jittered to ${new Date(at).toISOString()})`;

      // Between the nominal and the jittered time: the window temporal#4866 is about.
      await sleep(nominal.getTime() + UPDATE_AFTER_NOMINAL_MS - Date.now());
      const update = (async () => {
        const updated = await updateDefinition(h.db, {
          id: definition.id,
          expectedVersion: 1,
          spec: spec(target.key, nominal, 'v2'),
        });
        return reconcileFrom(deps, definition.id, updated);
      })();
      expect(
        await within(update, {
          what: `the update of definition ${definition.id} before ${occurrence} fires`,
          timeoutMs: at - Date.now(),
        }),
      ).toBe('updated');
      expect(Date.now(), 'the update must land before the jittered time, or this test proves nothing').toBeLessThan(at);

      // Not dropped, and run on the new version.
      const run = await waitFor(
        async () =>
          (await listRuns(h.db, { definitionId: definition.id })).items.find(
            (r) => r.nominalTime?.toISOString() === nominalIso,
          ),
        {
          what: `the run of ${occurrence}: none means the update dropped it`,
          timeoutMs: at - Date.now() + RUN_WAIT_MS,
        },
      );
      expect(run.definitionVersion).toBe(2);
      const workflowId = `run:${definition.id}:cron-${nominalIso.replace('.000Z', 'Z')}`;
      expect(run.workflowId).toBe(workflowId);

      // Not doubled. An update could add a start of the occurrence when it lands or at the
      // jittered time, the two moments the scheduler acts on; once it has recorded its fire at
      // the jittered time, it must have taken exactly that one action, and the workflow id
      // must have exactly one execution.
      const jitteredIso = new Date(at).toISOString();
      const fires = await waitFor(
        async () => {
          const { info } = await scheduleOf(definition.id).describe();
          return {
            taken: info.numActionsTaken,
            actions: info.recentActions.map((a) => ({
              workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : a.action.type,
              scheduledAt: a.scheduledAt.toISOString(),
              takenAt: a.takenAt.toISOString(),
            })),
          };
        },
        {
          what: `the Schedule's fire at ${jitteredIso} for ${occurrence}`,
          until: (seen) => seen.actions.some((a) => Date.parse(a.takenAt) >= at - 1_000),
        },
      );
      expect(fires).toEqual({
        taken: 1,
        actions: [{ workflowId, scheduledAt: jitteredIso, takenAt: expect.any(String) }],
      });
      const executions = await waitFor(() => executionCount(h.client, workflowId), {
        what: `workflow ${workflowId} in Temporal's visibility`,
        until: (n) => n >= 1,
      });
      expect(executions).toBe(1);
      // The one occurrence of the year is the definition's only run.
      expect((await listRuns(h.db, { definitionId: definition.id })).items.map((r) => r.id)).toEqual([run.id]);
    } finally {
      for (const definition of created) {
        await archiveDefinition(h.db, definition.id);
        await reconcileDefinition(deps, definition.id);
      }
    }
  },
  TEST_TIMEOUT_MS,
);
