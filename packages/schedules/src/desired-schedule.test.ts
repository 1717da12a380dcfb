import { ActivityDefinitionSpec, scheduledRunWorkflowIdBase } from '@activity-core/core';
import type { DefinitionRecord } from '@activity-core/db';
import { WorkflowTypes } from '@activity-core/workflows';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCHEDULE_SETTINGS,
  type DesiredSchedule,
  definitionIdOf,
  desiredSchedule,
  type ScheduleSettings,
  scheduleIdFor,
} from './desired-schedule.ts';
import { appliedMemo } from './reconcile.ts';

const ID = '0194f3a2-7c1e-7b3a-9f00-0123456789ab';
const NOW = new Date('2026-12-01T10:00:00Z');
const SETTINGS: ScheduleSettings = { ...DEFAULT_SCHEDULE_SETTINGS, taskQueue: 'tq', tzdataVersion: '2026a' };

function definition(overrides: Partial<DefinitionRecord> = {}, trigger?: unknown): DefinitionRecord {
  const spec = ActivityDefinitionSpec.parse({
    key: 'nightly',
    name: 'Nightly',
    trigger: trigger ?? { kind: 'cron', cron: { expression: '30 2 * * *', timezone: 'Europe/Berlin' } },
    taskTemplates: [{ key: 't', title: 'x' }],
  });
  const at = new Date('2026-11-01T00:00:00Z');
  return {
    id: ID,
    key: spec.key,
    version: 3,
    enabled: true,
    archivedAt: null,
    spec,
    createdAt: at,
    updatedAt: at,
    versionCreatedAt: at,
    versionCreatedBy: null,
    ...overrides,
  };
}

function desired(record: DefinitionRecord, settings = SETTINGS, now = NOW): DesiredSchedule {
  const schedule = desiredSchedule(record, settings, now);
  if (!schedule) throw new Error('expected a schedule');
  return schedule;
}

describe('schedule ids', () => {
  it('round-trips a definition id under the installation prefix', () => {
    expect(scheduleIdFor(ID)).toBe(`ac-def-${ID}`);
    expect(definitionIdOf(scheduleIdFor(ID))).toBe(ID);
    expect(definitionIdOf(scheduleIdFor(ID, 'p1-def-'), 'p1-def-')).toBe(ID);
  });

  it.each([
    ['another prefix', `other-${ID}`],
    ['our prefix without a uuid', 'ac-def-nightly'],
    ['an installation sharing the namespace', `p2-def-${ID}`],
  ])('is not ours to delete: %s', (_what, scheduleId) => {
    expect(definitionIdOf(scheduleId)).toBeUndefined();
  });
});

describe('desiredSchedule', () => {
  it('wants nothing for an event definition or an archived cron definition', () => {
    const event = definition({}, { kind: 'event', event: { types: ['order.created'] } });
    expect(desiredSchedule(event, SETTINGS, NOW)).toBeUndefined();
    expect(desiredSchedule(definition({ archivedAt: NOW }), SETTINGS, NOW)).toBeUndefined();
  });

  it('starts RunActivityWorkflow on the base id, every occurrence its own run, the catch-up window at least 10 s', () => {
    const schedule = desired(definition(), { ...SETTINGS, catchupWindowMs: 1_000 });
    expect(schedule.scheduleId).toBe(`ac-def-${ID}`);
    expect(schedule.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: WorkflowTypes.runActivity,
      workflowId: scheduledRunWorkflowIdBase(ID),
      taskQueue: 'tq',
      args: [{ definitionId: ID, trigger: { kind: 'cron', scheduleId: `ac-def-${ID}` } }],
    });
    expect(schedule.policies).toEqual({ overlap: 'ALLOW_ALL', catchupWindow: 10_000, pauseOnFailure: false });
  });

  it('records in the memo what it was compiled from, for the reconciler and for people', () => {
    const schedule = desired(definition());
    expect(schedule.action.memo).toEqual({
      definitionId: ID,
      definitionVersion: 3,
      fingerprint: schedule.fingerprint,
      tzdata: '2026a',
      horizonStart: '2026-11-01T00:00:00.000Z',
      horizonEnd: '2028-01-01T00:00:00.000Z',
      cron: '30 2 * * * Europe/Berlin gap=auto fold=auto',
    });
  });

  it('compiles local time to UTC: 02:30 Berlin is 01:30 UTC in winter, 00:30 UTC in summer', () => {
    const { spec } = desired(definition());
    const calendars = JSON.stringify(spec.calendars);
    expect(calendars).toContain('"minute":30,"hour":1,"dayOfMonth":"*","month":["NOVEMBER","DECEMBER"]');
    expect(calendars).toContain('"minute":30,"hour":0,"dayOfMonth":"*","month":{"start":"APRIL","end":"OCTOBER"');
    expect(spec.timezone ?? 'UTC').toBe('UTC');
  });

  it('a disabled definition is a paused Schedule with the same fingerprint (pausing is no rewrite)', () => {
    const enabled = desired(definition());
    const disabled = desired(definition({ enabled: false }));
    expect(enabled.paused).toBe(false);
    expect(disabled.paused).toBe(true);
    expect(disabled.fingerprint).toBe(enabled.fingerprint);
  });

  it('the fingerprint is stable within a month and changes with what Temporal must be told', () => {
    const base = desired(definition()).fingerprint;
    expect(desired(definition(), SETTINGS, new Date('2026-12-31T23:59:59Z')).fingerprint).toBe(base);
    const changed = {
      'a new version': desired(definition({ version: 4 })).fingerprint,
      'another task queue': desired(definition(), { ...SETTINGS, taskQueue: 'tq2' }).fingerprint,
      'other tz data': desired(definition(), { ...SETTINGS, tzdataVersion: '2026b' }).fingerprint,
      'another catch-up window': desired(definition(), { ...SETTINGS, catchupWindowMs: 120_000 }).fingerprint,
      'the next month (a renewed window)': desired(definition(), SETTINGS, new Date('2027-01-01T00:00:00Z'))
        .fingerprint,
      'another expression': desired(
        definition({}, { kind: 'cron', cron: { expression: '0 3 * * *', timezone: 'Europe/Berlin' } }),
      ).fingerprint,
    };
    for (const [what, fingerprint] of Object.entries(changed)) {
      expect(fingerprint, what).not.toBe(base);
    }
  });
});

describe('appliedMemo', () => {
  it('is empty for a Schedule whose action is not a workflow start (not ours)', () => {
    expect(appliedMemo({ action: { type: 'signalWorkflow' } as never })).toEqual({});
  });
});
