import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { parseInstantOrAgo } from '../duration.ts';
import { ExitCode } from '../errors.ts';
import { positiveInt } from '../input.ts';
import { emit, table } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

/** `2026-03-29T01:00:00Z` in Europe/Berlin → `2026-03-29 03:00 Sun`, and its offset `+02:00`. */
export function localTime(iso: string, timeZone: string): { local: string; offset: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  const offset = (parts.timeZoneName ?? 'GMT').replace(/^GMT$/, 'GMT+00:00').replace('GMT', '');
  return { local: `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.weekday}`, offset };
}

/**
 * Fire times as a table in the zone and in UTC. A fire whose UTC offset differs from the one
 * before is marked `DST`: a transition lies between them.
 */
export function renderFires(preview: { timezone: string; times: string[] }): string {
  let previous: string | undefined;
  return table(
    ['  LOCAL', 'OFFSET', 'UTC', ''],
    preview.times.map((t) => {
      const { local, offset } = localTime(t, preview.timezone);
      const mark = previous !== undefined && previous !== offset ? `DST (was ${previous})` : '';
      previous = offset;
      return [`  ${local}`, offset, t, mark];
    }),
  );
}

interface PreviewOptions {
  tz: string;
  from?: string;
  count: string;
}

const previewCommand =
  (expression: string, options: PreviewOptions): Run =>
  async (ctx) => {
    const preview = await ctx.call((c) =>
      c.definitions.previewSchedule.query({
        cron: { expression, timezone: options.tz },
        count: positiveInt(options.count, '--count', 100),
        ...(options.from !== undefined ? { from: parseInstantOrAgo(options.from, '--from').toISOString() } : {}),
      }),
    );
    emit(
      ctx.io,
      ctx.format,
      preview,
      () => `Fires of "${expression}" in ${preview.timezone}:\n${renderFires(preview)}`,
    );
    return ExitCode.ok;
  };

export function registerScheduleCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  program
    .command('schedule')
    .description('cron schedules')
    .command('preview')
    .description('the next fire times of a cron expression in a timezone, as the Schedule will fire them')
    .argument('<cron>', '5-field cron expression, e.g. "30 8 * * 1-5"')
    .requiredOption('--tz <zone>', 'IANA timezone, e.g. Europe/Berlin')
    .option('--from <instant>', 'fires after this instant (ISO 8601, or a time ago such as 2h); default now')
    .option('--count <n>', 'how many fires (1-100)', '10')
    .action((cron: string, options: PreviewOptions) => run(previewCommand(cron, options)));
}
