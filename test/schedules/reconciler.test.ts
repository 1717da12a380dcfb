import { randomUUID } from 'node:crypto';
import { ActivityDefinitionSpec, previewSchedule } from '@activity-core/core';
import { archiveDefinition, createDefinition, setDefinitionEnabled, updateDefinition } from '@activity-core/db';
import {
  appliedMemo,
  compileWindowAt,
  DEFAULT_SCHEDULE_SETTINGS,
  describeSchedule,
  reconcileAll,
  reconcileDefinition,
  reconcileFrom,
  type ScheduleDeps,
  scheduleIdFor,
} from '@activity-core/schedules';
import { WorkflowTypes } from '@activity-core/workflows';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { useMigratedDb } from '../db/fixture.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';

const database = useMigratedDb();
let connection: Connection;
let deps: ScheduleDeps;

function cronSpec(key: string, expression: string, timezone = 'Europe/Berlin'): ActivityDefinitionSpec {
  return ActivityDefinitionSpec.parse({
    key,
    name: `Cron ${key}`,
    trigger: { kind: 'cron', cron: { expression, timezone } },
    taskTemplates: [{ key: 'task', title: 'Do it' }],
  });
}

// Schedule ids of this file only: reconcileAll deletes orphans under its prefix, and other
// files create schedules on the same server at the same time.
const PREFIX = `${uniqueId('ac-t')}-`;

async function scheduleOf(definitionId: string) {
  return deps.client.schedule.getHandle(scheduleIdFor(definitionId, PREFIX)).describe();
}

beforeAll(async () => {
  const info = stackInfo();
  connection = await Connection.connect({ address: info.temporalAddress });
  deps = {
    client: new Client({ connection, namespace: info.temporalNamespace }),
    db: database().db,
    settings: { ...DEFAULT_SCHEDULE_SETTINGS, taskQueue: uniqueId('tq-'), scheduleIdPrefix: PREFIX },
  };
});

afterAll(async () => {
  await connection.close();
});

describe('schedule reconciler', () => {
  test('creates one schedule per cron definition whose next fires are the preview', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '15 9 * * MON-FRI') });
    expect(await reconcileDefinition(deps, definition.id)).toBe('created');
    expect(await reconcileDefinition(deps, definition.id)).toBe('unchanged');
    const described = await scheduleOf(definition.id);
    expect(described.state.paused).toBe(false);
    expect(described.policies.overlap).toBe('ALLOW_ALL');
    const next = described.info.nextActionTimes;
    const preview = previewSchedule(
      { expression: '15 9 * * MON-FRI', timezone: 'Europe/Berlin' },
      new Date(),
      next.length,
    );
    expect(next.map((d) => d.toISOString())).toEqual(preview.map((d) => d.toISOString()));
    expect(described.action.type === 'startWorkflow' && described.action.workflowId).toBe(`run:${definition.id}:cron`);
  });

  test('an update of the definition updates the schedule; an unchanged one is not rewritten', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '0 8 * * *') });
    await reconcileDefinition(deps, definition.id);
    const before = await scheduleOf(definition.id);
    await updateDefinition(deps.db, {
      id: definition.id,
      expectedVersion: 1,
      spec: cronSpec(definition.key, '30 18 * * *'),
    });
    expect(await reconcileDefinition(deps, definition.id)).toBe('updated');
    const after = await scheduleOf(definition.id);
    expect(after.info.nextActionTimes[0]?.toISOString()).not.toBe(before.info.nextActionTimes[0]?.toISOString());
    const [first] = previewSchedule({ expression: '30 18 * * *', timezone: 'Europe/Berlin' }, new Date(), 1);
    expect(after.info.nextActionTimes[0]?.toISOString()).toBe(first?.toISOString());
    expect(await reconcileDefinition(deps, definition.id)).toBe('unchanged');
  });

  test('disabling pauses the schedule, enabling resumes it, archiving deletes it', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '0 12 * * *') });
    await reconcileDefinition(deps, definition.id);
    await setDefinitionEnabled(deps.db, definition.id, false);
    expect(await reconcileDefinition(deps, definition.id)).toBe('paused');
    expect((await scheduleOf(definition.id)).state.paused).toBe(true);
    await setDefinitionEnabled(deps.db, definition.id, true);
    expect(await reconcileDefinition(deps, definition.id)).toBe('resumed');
    expect((await scheduleOf(definition.id)).state.paused).toBe(false);
    await archiveDefinition(deps.db, definition.id);
    expect(await reconcileDefinition(deps, definition.id)).toBe('deleted');
    await expect(scheduleOf(definition.id)).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  test('a schedule created disabled starts paused', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '0 7 * * *'), enabled: false });
    expect(await reconcileDefinition(deps, definition.id)).toBe('created');
    expect((await scheduleOf(definition.id)).state.paused).toBe(true);
  });

  test('two reconcilers racing on the same definitions converge on one schedule each', async () => {
    const definitions = await Promise.all(
      [0, 1, 2].map((i) => createDefinition(deps.db, { spec: cronSpec(uniqueId(`r${i}`), `${i} 6 * * *`) })),
    );
    const results = await Promise.all(
      definitions.flatMap((d) => [reconcileDefinition(deps, d.id), reconcileDefinition(deps, d.id)]),
    );
    expect(results.filter((r) => r === 'created')).toHaveLength(3);
    expect(results.every((r) => r === 'created' || r === 'unchanged')).toBe(true);
    for (const d of definitions) expect((await scheduleOf(d.id)).state.paused).toBe(false);
  });

  test('a writer holding an older version leaves a newer schedule alone', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '0 5 * * *') });
    await reconcileDefinition(deps, definition.id);
    const newer = await updateDefinition(deps.db, {
      id: definition.id,
      expectedVersion: 1,
      spec: cronSpec(definition.key, '0 22 * * *'),
    });
    expect(await reconcileFrom(deps, newer.id, newer)).toBe('updated');
    // A replica that read the definition before the update now reconciles from version 1.
    expect(await reconcileFrom(deps, definition.id, definition)).toBe('newer_in_temporal');
    const current = await scheduleOf(definition.id);
    expect(current.action.type === 'startWorkflow' ? current.action.memo?.definitionVersion : undefined).toBe(2);
    const [first] = previewSchedule({ expression: '0 22 * * *', timezone: 'Europe/Berlin' }, new Date(), 1);
    expect(current.info.nextActionTimes[0]?.toISOString()).toBe(first?.toISOString());
  });

  test('reconcileAll removes orphan schedules carrying our prefix and leaves others alone', async () => {
    // Fresh ids: a stack reused between runs (an external Temporal) may still hold a fixed one.
    const orphanId = scheduleIdFor(randomUUID(), PREFIX);
    // Another installation's schedule (default prefix) and someone else's entirely.
    const otherInstallation = scheduleIdFor(randomUUID());
    const foreignId = uniqueId('someone-elses-');
    for (const scheduleId of [orphanId, otherInstallation, foreignId]) {
      await deps.client.schedule.create({
        scheduleId,
        spec: { calendars: [{ hour: 3 }] },
        action: { type: 'startWorkflow', workflowType: 'Whatever', taskQueue: deps.settings.taskQueue, args: [] },
      });
    }
    const report = await reconcileAll(deps);
    expect(report.orphansDeleted).toContain(orphanId);
    await expect(deps.client.schedule.getHandle(orphanId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await expect(deps.client.schedule.getHandle(foreignId).describe()).resolves.toMatchObject({
      scheduleId: foreignId,
    });
    await expect(deps.client.schedule.getHandle(otherInstallation).describe()).resolves.toMatchObject({
      scheduleId: otherInstallation,
    });
    await deps.client.schedule.getHandle(foreignId).delete();
    await deps.client.schedule.getHandle(otherInstallation).delete();
  });

  test('describeSchedule reports next fires, misfire counts, the compiled window and tz data', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '45 10 * * *') });
    await reconcileDefinition(deps, definition.id);
    const state = await describeSchedule(deps, definition.id);
    expect(state.paused).toBe(false);
    expect(state.nextFireTimes.length).toBeGreaterThan(0);
    expect(state.firesTaken).toBe(0);
    expect(state.runsByStatus).toEqual({});
    const window = compileWindowAt(new Date(), deps.settings);
    expect(state.horizon).toMatchObject({ start: window.start.toISOString(), end: window.end.toISOString() });
    expect(state.horizon.remainingDays).toBeGreaterThanOrEqual(360);
    expect(state.tzdata).toEqual({ compiledWith: process.versions.tz, current: process.versions.tz });
    expect(state.dst).toEqual({ gap: 'shift', fold: 'first' });
    // A daily job in a DST zone: one calendar per constant-offset stretch of the window, roughly.
    expect(state.calendarEntries).toBeGreaterThan(0);
    expect(state.calendarEntries).toBeLessThanOrEqual(8);
  });
});

describe('compiled specs: UTC only, renewed, recompiled on upgrade and on other tz data', () => {
  test('a Schedule written by an older version (local-time spec) is recompiled to UTC', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '15 9 * * MON-FRI') });
    const scheduleId = scheduleIdFor(definition.id, PREFIX);
    // What the previous compiler wrote: calendars in the definition's zone, interpreted by the server.
    await deps.client.schedule.create({
      scheduleId,
      spec: {
        calendars: [{ minute: 15, hour: 9, dayOfWeek: { start: 'MONDAY', end: 'FRIDAY' } }],
        timezone: 'Europe/Berlin',
      },
      action: {
        type: 'startWorkflow',
        workflowType: WorkflowTypes.runActivity,
        taskQueue: deps.settings.taskQueue,
        args: [],
        memo: { definitionId: definition.id, definitionVersion: 1, fingerprint: '0123456789abcdef' },
      },
      policies: { overlap: 'ALLOW_ALL' },
    });
    expect(await reconcileDefinition(deps, definition.id)).toBe('updated');
    const described = await scheduleOf(definition.id);
    expect(described.spec.timezone ?? '').toBe('');
    expect(appliedMemo(described)).toMatchObject({ tzdata: process.versions.tz, definitionVersion: 1 });
    const preview = previewSchedule(
      { expression: '15 9 * * MON-FRI', timezone: 'Europe/Berlin' },
      new Date(),
      described.info.nextActionTimes.length,
    );
    expect(described.info.nextActionTimes.map((d) => d.toISOString())).toEqual(preview.map((d) => d.toISOString()));
    expect(await reconcileDefinition(deps, definition.id)).toBe('unchanged');
  });

  test('the window is renewed when the month turns, by the ordinary reconcile pass', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '0 6 * * *') });
    await reconcileDefinition(deps, definition.id);
    const before = appliedMemo(await scheduleOf(definition.id)).horizonEnd;
    // The same month later on: nothing to write.
    const later = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 28, 23));
    expect(await reconcileDefinition({ ...deps, now: () => later }, definition.id)).toBe('unchanged');
    // A pass in the next month writes the next window.
    const nextMonth = new Date(Date.UTC(later.getUTCFullYear(), later.getUTCMonth() + 1, 1, 0, 5));
    const renewed = { ...deps, now: () => nextMonth };
    const report = await reconcileAll(renewed);
    expect(report.outcomes[definition.id]).toBe('updated');
    expect(report.failures).toEqual({});
    const after = appliedMemo(await scheduleOf(definition.id)).horizonEnd;
    expect(after).toBe(compileWindowAt(nextMonth, deps.settings).end.toISOString());
    expect(Date.parse(after as string)).toBeGreaterThan(Date.parse(before as string));
    expect(report.earliestHorizonEnd?.getTime()).toBeLessThanOrEqual(Date.parse(after as string));
  });

  test('other tz data recompiles; older data leaves a newer compile of the same window alone', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '30 2 * * *') });
    await reconcileDefinition(deps, definition.id);
    const newer = { ...deps, settings: { ...deps.settings, tzdataVersion: '2099z' } };
    expect(await reconcileDefinition(newer, definition.id)).toBe('updated');
    expect(appliedMemo(await scheduleOf(definition.id)).tzdata).toBe('2099z');
    // This process's (older) data: keep the newer compile instead of flapping.
    expect(await reconcileDefinition(deps, definition.id)).toBe('newer_tzdata_in_temporal');
    expect(appliedMemo(await scheduleOf(definition.id)).tzdata).toBe('2099z');
    // But a renewal is never held back: a later window is written with the data at hand.
    const nextMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 2));
    expect(await reconcileDefinition({ ...deps, now: () => nextMonth }, definition.id)).toBe('updated');
    expect(appliedMemo(await scheduleOf(definition.id)).tzdata).toBe(process.versions.tz);
  });
});
