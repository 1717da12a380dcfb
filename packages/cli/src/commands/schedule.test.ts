import type { SchedulePreview } from '@activity-core/api';
import { type CronTriggerConfig, previewOccurrences } from '@activity-core/core';
import { describe, expect, test } from 'vitest';
import { describePolicy, renderFires, splitLocal } from './schedule.ts';

/** What `definitions.previewSchedule` answers, built by the same core function the API calls. */
function preview(cron: Partial<CronTriggerConfig> & { expression: string; timezone: string }, from: string, n: number) {
  const { dst, occurrences } = previewOccurrences(cron as CronTriggerConfig, new Date(from), n);
  return {
    timezone: cron.timezone,
    dst,
    tzdata: 'test-tz',
    times: occurrences.map((o) => o.at),
    occurrences,
  } satisfies SchedulePreview;
}

describe('renderFires shows the server engine’s DST marks', () => {
  test('a fixed-time job in the spring gap: shifted, and the named time it stands for', () => {
    const p = preview({ expression: '30 2 * * *', timezone: 'Europe/Berlin' }, '2026-03-27T12:00:00Z', 3);
    const lines = renderFires(p).split('\n');
    expect(lines[1]).toMatch(/^ {2}2026-03-28 02:30 Sat\s+\+01:00\s+2026-03-28T01:30:00\.000Z\s*$/);
    expect(lines[2]).toMatch(
      /^ {2}2026-03-29 03:00 Sun\s+\+02:00\s+2026-03-29T01:00:00\.000Z\s+DST gap: shifted from 02:30$/,
    );
    expect(lines[3]).toMatch(/^ {2}2026-03-30 02:30 Mon\s+\+02:00\s+2026-03-30T00:30:00\.000Z\s*$/);
    expect(describePolicy(p)).toBe('DST gap shift, fold first; tz data test-tz');
  });

  test('a wildcard job in the autumn fold: both copies of the hour, each named', () => {
    const p = preview({ expression: '0 * * * *', timezone: 'Europe/Berlin' }, '2026-10-24T22:30:00Z', 4);
    const marks = renderFires(p)
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/\s+$/, ''));
    expect(marks).toEqual([
      expect.stringMatching(/^ {2}2026-10-25 01:00 Sun\s+\+02:00\s+2026-10-24T23:00:00\.000Z$/),
      expect.stringMatching(
        /^ {2}2026-10-25 02:00 Sun\s+\+02:00\s+2026-10-25T00:00:00\.000Z\s+DST repeated \(first\)$/,
      ),
      expect.stringMatching(
        /^ {2}2026-10-25 02:00 Sun\s+\+01:00\s+2026-10-25T01:00:00\.000Z\s+DST repeated \(second\)$/,
      ),
      expect.stringMatching(/^ {2}2026-10-25 03:00 Sun\s+\+01:00\s+2026-10-25T02:00:00\.000Z$/),
    ]);
    expect(describePolicy(p)).toBe('DST gap skip, fold both; tz data test-tz');
  });

  test('an offset change the policy did not touch carries no mark', () => {
    const p = preview({ expression: '30 8 * * *', timezone: 'Europe/Berlin' }, '2026-03-28T12:00:00Z', 2);
    expect(renderFires(p)).not.toContain('DST');
  });

  test('splitLocal reads the server’s local time without a zone lookup', () => {
    expect(splitLocal('2027-03-14T03:00:00-04:00')).toEqual({ local: '2027-03-14 03:00 Sun', offset: '-04:00' });
    expect(splitLocal('not a time')).toEqual({ local: 'not a time', offset: '' });
  });
});
