import { readFileSync } from 'node:fs';
import {
  type CompileConfig,
  compileToScheduleSpec,
  cronSchedule,
  type DstPolicyInput,
  nextOccurrences,
  occurrencesBetween,
  TimeZone,
} from '@activity-core/core';
import { DST_TEST_ZONES as ZONES } from '@activity-core/core/testing';
import { compileWindowAt, DEFAULT_SCHEDULE_SETTINGS } from '@activity-core/schedules';
import { Client, Connection, type ScheduleSpec } from '@temporalio/client';
import { msToTs, tsToMs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stackInfo, uniqueId } from '../support/stack.ts';

// The real Temporal server fires exactly the engine's occurrences. Each case compiles a cron
// trigger the way the reconciler does (UTC calendars over the window of its start), creates a
// paused Schedule whose `startAt` lies just before a DST transition of its zone, and compares
// `describe().info.nextActionTimes` (up to 10) with the engine's next occurrences in the window.
// Cases run concurrently and each Schedule is deleted as soon as it is compared.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Expression, and how long before a transition its ten next fires should start. */
const EXPRESSIONS: ReadonlyArray<readonly [string, number]> = [
  ['*/15 * * * *', 1.5 * HOUR], // sub-hourly
  ['*/7 * * * *', 0.75 * HOUR],
  ['0 * * * *', 4 * HOUR], // hourly
  ['5-50/15 0-6/2 * * *', 4 * HOUR], // ranges with steps
  ['30 2 * * *', 3 * DAY], // fixed time, often in the gap or fold
  ['45 1-3 * * *', 1 * DAY],
  ['0 0 * * *', 3 * DAY], // midnight (Santiago, Havana, Chisinau move there)
  ['59 23 * * SAT', 10 * DAY], // names
  ['30 1 * * 7', 10 * DAY], // 7 as Sunday
  ['15 2 1,15 * MON', 20 * DAY], // day of month OR day of week
  ['0 3 * JAN-MAR,SEP-DEC MON-FRI', 4 * DAY],
];
const POLICIES: readonly DstPolicyInput[] = [
  {},
  { gap: 'shift', fold: 'first' },
  { gap: 'shift', fold: 'last' },
  { gap: 'shift', fold: 'both' },
  { gap: 'skip', fold: 'first' },
  { gap: 'skip', fold: 'last' },
  { gap: 'skip', fold: 'both' },
  { gap: 'auto', fold: 'both' },
  { gap: 'shift', fold: 'auto' },
  { gap: 'skip', fold: 'auto' },
];

interface Case {
  readonly config: CompileConfig;
  readonly startAt: Date;
}

function cases(): Case[] {
  const now = Date.now();
  const out: Case[] = [];
  let policy = 0;
  for (const timezone of ZONES) {
    // The next gap and the next fold of the zone, a week out at least (so nothing is due).
    const transitions = TimeZone.of(timezone).transitions(now + 7 * DAY, now + 2 * 366 * DAY);
    const gap = transitions.find((t) => t.after > t.before);
    const fold = transitions.find((t) => t.after < t.before);
    const anchors = [gap?.at, fold?.at].filter((t): t is number => t !== undefined);
    if (anchors.length === 0) anchors.push(now + 30 * DAY);
    for (const anchor of anchors) {
      for (const [expression, lead] of EXPRESSIONS) {
        const dst = POLICIES[policy++ % POLICIES.length] as DstPolicyInput;
        out.push({ config: { expression, timezone, dst, jitterSeconds: 0 }, startAt: new Date(anchor - lead) });
      }
    }
  }
  // Leap days: February 29 of the next leap year, from a month before.
  let leapYear = new Date(now + 30 * DAY).getUTCFullYear();
  while (!(leapYear % 4 === 0 && (leapYear % 100 !== 0 || leapYear % 400 === 0))) leapYear++;
  for (const [timezone, expression] of [
    ['Europe/Berlin', '30 1 29 2 *'],
    ['Pacific/Auckland', '0 0 29 FEB *'],
    ['America/St_Johns', '0 22 28-29 2 *'],
    ['UTC', '0 12 29 2 THU'],
  ] as const) {
    out.push({ config: { expression, timezone, jitterSeconds: 0 }, startAt: new Date(Date.UTC(leapYear, 0, 29)) });
  }
  return out;
}

/** The tz database the server reads (the system's, for the Temporal CLI's dev server), if visible. */
function systemTzdataVersion(): string {
  try {
    return (
      /# version (\S+)/.exec(readFileSync('/usr/share/zoneinfo/tzdata.zi', 'utf8').slice(0, 200))?.[1] ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

let connection: Connection;
let client: Client;
const all = cases();

beforeAll(async () => {
  const info = stackInfo();
  connection = await Connection.connect({ address: info.temporalAddress });
  client = new Client({ connection, namespace: info.temporalNamespace });
});

afterAll(async () => {
  await connection?.close();
});

async function temporalTimes(spec: ScheduleSpec): Promise<string[]> {
  const handle = await client.schedule.create({
    scheduleId: uniqueId('engine-'),
    spec,
    action: { type: 'startWorkflow', workflowType: 'NeverRuns', taskQueue: uniqueId('none-'), args: [] },
    state: { paused: true, note: 'engine-matches-temporal' },
  });
  try {
    return (await handle.describe()).info.nextActionTimes.map((d) => d.toISOString());
  } finally {
    await handle.delete();
  }
}

async function compare(c: Case): Promise<{ temporal: string[]; engine: string[]; calendars: number }> {
  const window = compileWindowAt(c.startAt, DEFAULT_SCHEDULE_SETTINGS);
  const compiled = compileToScheduleSpec(c.config, window);
  const temporal = await temporalTimes({ ...(compiled as ScheduleSpec), startAt: c.startAt });
  const engine = nextOccurrences(cronSchedule(c.config), c.startAt.getTime() - 1, 10)
    .filter((o) => o.at < window.end.getTime())
    .map((o) => new Date(o.at).toISOString());
  return { temporal, engine, calendars: compiled.calendars.length };
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i] as T);
      }
    }),
  );
  return results;
}

describe('the real Temporal server fires exactly the engine’s occurrences', () => {
  test('a few hundred cases around DST transitions in every zone, each policy', async () => {
    expect(all.length).toBeGreaterThanOrEqual(300);
    const results = await pool(all, 12, compare);
    const mismatches = results
      .map((r, i) => ({ ...r, c: all[i] as Case }))
      .filter((r) => JSON.stringify(r.temporal) !== JSON.stringify(r.engine));
    const compared = results.reduce((n, r) => n + r.engine.length, 0);
    process.stdout.write(
      `[schedules] engine = Temporal nextActionTimes: ${results.length - mismatches.length}/${results.length} cases ` +
        `(${compared} fire times) in ${ZONES.length} zones; tz data: Node ${process.versions.tz}, ` +
        `system (server) ${systemTzdataVersion()}; calendars per spec max ${Math.max(...results.map((r) => r.calendars))}\n`,
    );
    for (const r of results) expect(r.engine.length).toBeGreaterThan(0);
    expect(
      mismatches.map((m) => ({
        ...m.c.config,
        startAt: m.c.startAt.toISOString(),
        temporal: m.temporal,
        engine: m.engine,
      })),
    ).toEqual([]);
  }, 240_000);

  test('over the whole compiled window (ListScheduleMatchingTimes), daily and weekday jobs in every zone', async () => {
    const now = new Date();
    const window = compileWindowAt(now, DEFAULT_SCHEDULE_SETTINGS);
    const configs = ZONES.flatMap((timezone) => [
      { expression: '30 2 * * *', timezone, jitterSeconds: 0 },
      { expression: '0 9 * * MON-FRI', timezone, jitterSeconds: 0, dst: { gap: 'skip', fold: 'last' } as const },
    ]);
    const info = stackInfo();
    const results = await pool(configs, 8, async (config) => {
      const handle = await client.schedule.create({
        scheduleId: uniqueId('window-'),
        spec: compileToScheduleSpec(config, window) as ScheduleSpec,
        action: { type: 'startWorkflow', workflowType: 'NeverRuns', taskQueue: uniqueId('none-'), args: [] },
        state: { paused: true, note: 'engine-matches-temporal' },
      });
      try {
        const matching = await connection.workflowService.listScheduleMatchingTimes({
          namespace: info.temporalNamespace,
          scheduleId: handle.scheduleId,
          startTime: msToTs(window.start.getTime()),
          endTime: msToTs(window.end.getTime() - 1000),
        });
        const temporal = (matching.startTime ?? []).map((t) => new Date(tsToMs(t)).toISOString());
        const engine = occurrencesBetween(
          cronSchedule(config),
          window.start.getTime() - 1,
          window.end.getTime() - 1,
        ).map((o) => new Date(o.at).toISOString());
        return { config, temporal, engine };
      } finally {
        await handle.delete();
      }
    });
    process.stdout.write(
      `[schedules] whole window ${window.start.toISOString()}..${window.end.toISOString()}: ` +
        `${results.reduce((n, r) => n + r.engine.length, 0)} fire times in ${results.length} schedules\n`,
    );
    for (const r of results) {
      expect(r.engine.length).toBeGreaterThan(200);
      expect(r.engine.length).toBeLessThan(1000); // the server answers at most 1000
      expect(r.temporal, `${r.config.expression} @ ${r.config.timezone}`).toEqual(r.engine);
    }
  }, 120_000);

  test('a UTC spec consults neither tz database: Vancouver fires what our tz data says', async () => {
    // Node 24's tz data and the server's may disagree about America/Vancouver (permanent −07:00
    // from 2026c on). The compiled spec is UTC, so the Schedule fires the engine's times; a
    // Schedule that leaves local time to the server answers with the server's data instead.
    const config = { expression: '0 2 * * *', timezone: 'America/Vancouver', jitterSeconds: 0 };
    const startAt = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 0, 10));
    const r = await compare({ config, startAt });
    expect(r.temporal).toEqual(r.engine);
    expect(r.engine).toHaveLength(10);
    const serverLocal = await temporalTimes({
      calendars: [{ hour: 2, minute: 0 }],
      timezone: 'America/Vancouver',
      startAt,
    });
    process.stdout.write(
      `[schedules] 0 2 * * * America/Vancouver: engine (Node tz ${process.versions.tz}) ${r.engine[0]}, ` +
        `server-interpreted (tz ${systemTzdataVersion()}) ${serverLocal[0]}\n`,
    );
  });
});
