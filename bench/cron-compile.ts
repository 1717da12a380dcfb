// Compiling cron triggers to UTC Schedule specs: time per compile and calendar entries per spec
// for typical definitions, over the window the reconciler compiles (1 month back, 13 ahead).
// Baseline, measured in the same run: the engine enumerating every fire of that window, which
// is what a spec that pinned each fire would have to hold.
//   node bench/cron-compile.ts [reps=3]
import { performance } from 'node:perf_hooks';
import { compileToScheduleSpec, cronSchedule, occurrencesBetween } from '@activity-core/core';
import { compileWindowAt, DEFAULT_SCHEDULE_SETTINGS } from '@activity-core/schedules';

const reps = Number(process.argv[2] ?? 3);
const window = compileWindowAt(new Date(), DEFAULT_SCHEDULE_SETTINGS);
const cases: ReadonlyArray<readonly [string, string]> = [
  ['0 9 * * *', 'UTC'],
  ['0 9 * * *', 'Europe/Berlin'],
  ['0 9 * * *', 'America/New_York'],
  ['0 * * * *', 'Europe/Berlin'],
  ['*/15 * * * *', 'Europe/Berlin'],
  ['*/15 * * * *', 'Australia/Lord_Howe'],
  ['0 9 * * MON-FRI', 'Europe/Berlin'],
  ['0 9 1 * MON', 'Europe/Berlin'],
  ['30 2 * * *', 'America/Santiago'],
  ['5-50/15 0-6/2 1-10 * SUN', 'Asia/Kathmandu'],
];

function timed(fn: () => void): { min: number; median: number; max: number } {
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return {
    min: samples[0] as number,
    median: samples[Math.floor(samples.length / 2)] as number,
    max: samples.at(-1) as number,
  };
}

const ms = (x: number) => `${x.toFixed(2)}`.padStart(7);
process.stdout.write(
  `window ${window.start.toISOString()} .. ${window.end.toISOString()}, ${reps} reps, ms min/median/max\n`,
);
process.stdout.write(
  `${'expression'.padEnd(26)}${'zone'.padEnd(21)}${'entries'.padStart(8)}${'fires'.padStart(8)}  compile                  enumerate (baseline)     ratio\n`,
);
for (const [expression, timezone] of cases) {
  const config = { expression, timezone, jitterSeconds: 0 };
  // Warm the zone's transition cache: both paths read it.
  compileToScheduleSpec(config, window);
  let entries = 0;
  let fires = 0;
  const compile = timed(() => {
    entries = compileToScheduleSpec(config, window).calendars.length;
  });
  const enumerate = timed(() => {
    fires = occurrencesBetween(cronSchedule(config), window.start.getTime() - 1, window.end.getTime() - 1).length;
  });
  process.stdout.write(
    `${expression.padEnd(26)}${timezone.padEnd(21)}${String(entries).padStart(8)}${String(fires).padStart(8)}  ` +
      `${ms(compile.min)}${ms(compile.median)}${ms(compile.max)}   ${ms(enumerate.min)}${ms(enumerate.median)}${ms(enumerate.max)}   ` +
      `${(compile.median / enumerate.median).toFixed(2)}\n`,
  );
}
