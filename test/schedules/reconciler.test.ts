import { randomUUID } from 'node:crypto';
import { ActivityDefinitionSpec, previewSchedule } from '@activity-core/core';
import { archiveDefinition, createDefinition, setDefinitionEnabled, updateDefinition } from '@activity-core/db';
import {
  DEFAULT_SCHEDULE_SETTINGS,
  describeSchedule,
  reconcileAll,
  reconcileDefinition,
  reconcileFrom,
  type ScheduleDeps,
  scheduleIdFor,
} from '@activity-core/schedules';
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

  test('describeSchedule reports next fires and misfire counts', async () => {
    const definition = await createDefinition(deps.db, { spec: cronSpec(uniqueId('c'), '45 10 * * *') });
    await reconcileDefinition(deps, definition.id);
    const state = await describeSchedule(deps, definition.id);
    expect(state.paused).toBe(false);
    expect(state.nextFireTimes.length).toBeGreaterThan(0);
    expect(state.firesTaken).toBe(0);
    expect(state.runsByStatus).toEqual({});
  });
});
