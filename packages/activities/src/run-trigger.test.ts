import { eventKey } from '@activity-core/core';
import type { RunTrigger } from '@activity-core/workflows';
import { describe, expect, test } from 'vitest';
import { describeTrigger, scheduleDelayMs, triggerVars } from './run-trigger.ts';

const envelope = {
  specversion: '1.0',
  id: 'o-1',
  source: 'urn:shop',
  type: 'order.created',
  causationdepth: 0,
} as const;
const event: RunTrigger = { kind: 'event', envelope };
const cron: RunTrigger = { kind: 'cron', nominalTime: '2027-01-01T09:00:00.000Z', scheduleId: 'ac-def-1' };
const manual: RunTrigger = { kind: 'manual', requestedBy: 'alice', idempotencyKey: 'k-1', payload: { x: 1 } };

describe('the run trigger as activities see it', () => {
  test('templates and rules see the kind and what identifies the trigger', () => {
    expect(triggerVars(event)).toEqual({ kind: 'event', eventKey: eventKey(envelope), type: 'order.created' });
    expect(triggerVars(cron)).toEqual({ kind: 'cron', nominalTime: cron.nominalTime, scheduleId: 'ac-def-1' });
    expect(triggerVars(manual)).toEqual({
      kind: 'manual',
      requestedBy: 'alice',
      idempotencyKey: 'k-1',
      payload: { x: 1 },
    });
    expect(triggerVars({ kind: 'manual', requestedBy: 'bob', idempotencyKey: 'k-2' })).toMatchObject({ payload: null });
  });

  test('the run log describes an event by its identity, never by its data', () => {
    expect(describeTrigger(event)).toEqual({
      kind: 'event',
      id: 'o-1',
      source: 'urn:shop',
      type: 'order.created',
      eventKey: eventKey(envelope),
    });
    expect(describeTrigger({ ...event, replayKey: 'r1' })).toMatchObject({
      eventKey: eventKey(envelope),
      replayKey: 'r1',
    });
    expect(describeTrigger(manual)).toEqual({ kind: 'manual', requestedBy: 'alice', idempotencyKey: 'k-1' });
  });

  test("a cron start's delay is recorded as jitter only when jitter can explain it", () => {
    expect(scheduleDelayMs(cron.nominalTime, undefined)).toBeNull();
    expect(scheduleDelayMs(cron.nominalTime, '2027-01-01T09:00:02.500Z')).toBe(2500);
    expect(scheduleDelayMs(cron.nominalTime, '2027-01-01T08:59:59.000Z')).toBe(0);
    expect(scheduleDelayMs(cron.nominalTime, '2027-01-01T10:01:00.000Z')).toBe(3_660_000);
    expect(scheduleDelayMs(cron.nominalTime, '2027-01-01T10:01:00.001Z')).toBeNull();
  });
});
