import { describe, expect, it } from 'vitest';
import { eventKey } from './envelope.ts';
import {
  replayTriggerKey,
  runTriggerKey,
  runWorkflowIdFor,
  runWorkflowIdForCron,
  runWorkflowIdForEvent,
  runWorkflowIdForReplay,
  scheduledRunTriggerKey,
  scheduledRunWorkflowIdBase,
} from './workflow-ids.ts';

describe('the run id scheme', () => {
  const envelope = { source: 'urn:shop', id: 'o-1' };

  it('derives the trigger key from the trigger, and the workflow id from the key', () => {
    expect(runTriggerKey({ kind: 'event', envelope })).toBe(eventKey(envelope));
    expect(runTriggerKey({ kind: 'cron', nominalTime: '2025-05-01T09:00:00Z' })).toBe('cron:2025-05-01T09:00:00.000Z');
    expect(runTriggerKey({ kind: 'manual', idempotencyKey: 'k-1' })).toBe('manual:k-1');
    expect(runTriggerKey({ kind: 'event', envelope, replayKey: 'r1' })).toBe(`replay:r1:${eventKey(envelope)}`);
    for (const trigger of [
      { kind: 'event', envelope },
      { kind: 'event', envelope, replayKey: 'r1' },
      { kind: 'cron', nominalTime: '2025-05-01T09:00:00Z' },
      { kind: 'manual', idempotencyKey: 'k-1' },
    ] as const) {
      expect(runWorkflowIdFor({ definitionId: 'd1', trigger })).toBe(`run:d1:${runTriggerKey(trigger)}`);
    }
    expect(
      runWorkflowIdFor({ definitionId: 'd1', trigger: { kind: 'cron', nominalTime: '2025-05-01T09:00:00Z' } }),
    ).toBe(runWorkflowIdForCron('d1', new Date('2025-05-01T09:00:00Z')));
  });

  it('keeps a replayed run apart from the live run of the same event, and replays apart by key', () => {
    const key = eventKey(envelope);
    const live = runWorkflowIdForEvent('d1', key);
    const replayed = runWorkflowIdForReplay('d1', 'r1', key);
    expect(replayed).toBe(`run:d1:${replayTriggerKey('r1', key)}`);
    expect(replayed).toBe(
      runWorkflowIdFor({ definitionId: 'd1', trigger: { kind: 'event', envelope, replayKey: 'r1' } }),
    );
    expect(new Set([live, replayed, runWorkflowIdForReplay('d1', 'r2', key)]).size).toBe(3);
  });

  it("names a Schedule's run as Temporal does: the base, '-', and the nominal time to the second", () => {
    expect(scheduledRunWorkflowIdBase('d1')).toBe('run:d1:cron');
    expect(scheduledRunTriggerKey('2027-01-01T09:00:00.000Z')).toBe('cron-2027-01-01T09:00:00Z');
    expect(scheduledRunTriggerKey(new Date('2027-01-01T09:00:00.999Z'))).toBe('cron-2027-01-01T09:00:00Z');
    expect(`${scheduledRunWorkflowIdBase('d1')}-2027-01-01T09:00:00Z`).toBe(
      `run:d1:${scheduledRunTriggerKey('2027-01-01T09:00:00Z')}`,
    );
  });
});
