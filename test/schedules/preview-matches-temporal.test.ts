import { compileToScheduleSpec, previewSchedule, SCHEDULE_HORIZON_YEARS } from '@activity-core/core';
import { Client, Connection, type ScheduleSpec } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stackInfo, uniqueId } from '../support/stack.ts';

// Core's preview is the promise we make to users; Temporal's `nextActionTimes` is what the
// Schedule will really do. For each config the schedule's window is placed (startAt) just
// before a DST transition or another awkward date, in the future so nothing fires, and the
// two lists must be identical.
interface Case {
  readonly expression: string;
  readonly timezone: string;
  /** Window start, local wall-clock irrelevant: an instant. */
  readonly from: string;
}

const NY_SPRING = '2027-03-13T12:00:00Z'; // US spring forward 2027-03-14 02:00 -> 03:00
const NY_FALL = '2027-11-06T12:00:00Z'; // US fall back 2027-11-07 02:00 -> 01:00
const BERLIN_SPRING = '2027-03-27T12:00:00Z'; // EU 2027-03-28 02:00 -> 03:00
const BERLIN_FALL = '2027-10-30T12:00:00Z'; // EU 2027-10-31 03:00 -> 02:00
const LHI_SPRING = '2027-10-02T00:00:00Z'; // Lord Howe 2027-10-03 02:00 -> 02:30
const LHI_FALL = '2027-04-03T00:00:00Z'; // Lord Howe 2027-04-04 02:00 -> 01:30
const SYD_SPRING = '2027-10-02T00:00:00Z'; // Sydney 2027-10-03 02:00 -> 03:00
const SYD_FALL = '2027-04-03T00:00:00Z'; // Sydney 2027-04-04 03:00 -> 02:00
const SCL_SPRING = '2027-09-04T00:00:00Z'; // Santiago 2027-09-05 00:00 -> 01:00
const SCL_FALL = '2027-04-03T00:00:00Z'; // Santiago 2027-04-04 00:00 -> 23:00 (previous day)
const PLAIN = '2027-01-10T00:00:00Z';

const cases: Case[] = [
  // America/New_York around both transitions
  { expression: '30 2 * * *', timezone: 'America/New_York', from: NY_SPRING },
  { expression: '*/15 1-3 * * *', timezone: 'America/New_York', from: NY_SPRING },
  { expression: '0 2 * * *', timezone: 'America/New_York', from: NY_SPRING },
  { expression: '30 1 * * *', timezone: 'America/New_York', from: NY_FALL },
  { expression: '*/20 0-2 * * *', timezone: 'America/New_York', from: NY_FALL },
  { expression: '0 9 * * MON-FRI', timezone: 'America/New_York', from: NY_SPRING },
  { expression: '0 0 14 3 *', timezone: 'America/New_York', from: NY_SPRING },
  { expression: '59 1 * * SUN', timezone: 'America/New_York', from: NY_FALL },
  // Europe/Berlin
  { expression: '30 2 * * *', timezone: 'Europe/Berlin', from: BERLIN_SPRING },
  { expression: '0 2-3 * * *', timezone: 'Europe/Berlin', from: BERLIN_SPRING },
  { expression: '30 2 * * *', timezone: 'Europe/Berlin', from: BERLIN_FALL },
  { expression: '*/30 * * * *', timezone: 'Europe/Berlin', from: BERLIN_FALL },
  { expression: '15 2 28 3 *', timezone: 'Europe/Berlin', from: BERLIN_SPRING },
  { expression: '0 8 1,15 * MON', timezone: 'Europe/Berlin', from: BERLIN_SPRING },
  // Australia/Lord_Howe: 30-minute DST shift
  { expression: '15 2 * * *', timezone: 'Australia/Lord_Howe', from: LHI_SPRING },
  { expression: '*/10 2 * * *', timezone: 'Australia/Lord_Howe', from: LHI_SPRING },
  { expression: '45 1 * * *', timezone: 'Australia/Lord_Howe', from: LHI_FALL },
  { expression: '0,30 1-2 * * *', timezone: 'Australia/Lord_Howe', from: LHI_FALL },
  { expression: '0 2 * * SUN', timezone: 'Australia/Lord_Howe', from: LHI_SPRING },
  { expression: '15 1 * * *', timezone: 'Australia/Lord_Howe', from: LHI_FALL },
  { expression: '*/20 2 * * *', timezone: 'Europe/Berlin', from: BERLIN_FALL },
  // Southern hemisphere, whole-hour shifts
  { expression: '30 2 * * *', timezone: 'Australia/Sydney', from: SYD_SPRING },
  { expression: '30 2 * * *', timezone: 'Australia/Sydney', from: SYD_FALL },
  { expression: '0 * * * *', timezone: 'Australia/Sydney', from: SYD_FALL },
  { expression: '0 0 * * *', timezone: 'America/Santiago', from: SCL_SPRING },
  { expression: '30 0 * * *', timezone: 'America/Santiago', from: SCL_SPRING },
  { expression: '30 23 * * *', timezone: 'America/Santiago', from: SCL_FALL },
  { expression: '0 22-23 * * SAT,SUN', timezone: 'America/Santiago', from: SCL_FALL },
  // Day-of-month OR day-of-week (POSIX), which Temporal's cron strings would AND
  { expression: '0 0 1,15 * MON', timezone: 'UTC', from: PLAIN },
  { expression: '0 12 13 * FRI', timezone: 'UTC', from: PLAIN },
  { expression: '30 6 1 * SUN', timezone: 'Asia/Kolkata', from: PLAIN },
  { expression: '0 0 31 * 1-5', timezone: 'Asia/Kathmandu', from: PLAIN },
  { expression: '0 9 1-7 * MON', timezone: 'Europe/London', from: PLAIN },
  { expression: '0 9 L * *'.replace('L', '28-31'), timezone: 'America/Chicago', from: PLAIN },
  // Names, steps, lists, ranges and odd dates
  { expression: '0 0 29 FEB *', timezone: 'UTC', from: PLAIN },
  { expression: '59 23 31 DEC *', timezone: 'Pacific/Auckland', from: PLAIN },
  { expression: '*/7 */5 * * *', timezone: 'UTC', from: PLAIN },
  { expression: '5-10/2 3 * JAN-MAR TUE', timezone: 'Asia/Tokyo', from: PLAIN },
  { expression: '0 0 * * 7', timezone: 'UTC', from: PLAIN },
  { expression: '0 12 * 1,4,7,10 MON-FRI', timezone: 'America/Sao_Paulo', from: PLAIN },
  { expression: '45 3 * * *', timezone: 'Asia/Kathmandu', from: PLAIN },
  { expression: '0 2 * * *', timezone: 'America/Havana', from: '2027-03-13T00:00:00Z' },
  { expression: '0 0 * * *', timezone: 'Asia/Beirut', from: '2027-03-27T00:00:00Z' },
];

let connection: Connection;
let client: Client;
const created: string[] = [];

beforeAll(async () => {
  const info = stackInfo();
  connection = await Connection.connect({ address: info.temporalAddress });
  client = new Client({ connection, namespace: info.temporalNamespace });
});

afterAll(async () => {
  await Promise.all(
    created.map((id) =>
      client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined),
    ),
  );
  await connection.close();
});

describe('core previewSchedule equals Temporal nextActionTimes', () => {
  test('there are at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  test.each(cases.map((c) => [`${c.expression} @ ${c.timezone} from ${c.from}`, c] as const))('%s', async (_, c) => {
    const from = new Date(c.from);
    const config = { expression: c.expression, timezone: c.timezone, jitterSeconds: 0 };
    const fromYear = from.getUTCFullYear();
    const spec = compileToScheduleSpec(config, { fromYear, toYear: fromYear + SCHEDULE_HORIZON_YEARS });
    const scheduleId = uniqueId('preview-');
    const handle = await client.schedule.create({
      scheduleId,
      spec: { ...(spec as ScheduleSpec), startAt: from },
      action: { type: 'startWorkflow', workflowType: 'NeverRuns', taskQueue: uniqueId('none-'), args: [] },
      state: { paused: false },
    });
    created.push(scheduleId);
    const described = await handle.describe();
    const temporal = described.info.nextActionTimes.map((d) => d.toISOString());
    expect(temporal.length).toBeGreaterThan(0);
    const preview = previewSchedule(config, new Date(from.getTime() - 1), temporal.length).map((d) => d.toISOString());
    expect(preview).toEqual(temporal);
  });
});
