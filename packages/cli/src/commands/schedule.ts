import type { SchedulePreview } from '@activity-core/api';
import { assertNever, type PreviewOccurrence } from '@activity-core/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { parseInstantOrAgo } from '../duration.ts';
import { ExitCode } from '../errors.ts';
import { positiveInt } from '../input.ts';
import { emit, table } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The server's `2026-03-29T03:00:00+02:00` → `2026-03-29 03:00 Sun` and `+02:00`: no zone lookup here. */
export function splitLocal(local: string): { local: string; offset: string } {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d)?([+-]\d\d:\d\d)$/.exec(local);
  if (!m) return { local, offset: '' };
  const [, date, time, offset] = m as unknown as [string, string, string, string];
  const weekday = WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()] as string;
  return { local: `${date} ${time} ${weekday}`, offset };
}

/** What the DST policy did to a fire, as the server marked it; empty when it did nothing. */
export function dstMark(o: PreviewOccurrence): string {
  switch (o.dst) {
    case undefined:
      return '';
    case 'shifted': {
      const from = (o.shiftedFrom ?? []).map((w) => w.slice(11)).join(', ');
      return `DST gap: shifted${from ? ` from ${from}` : ''}`;
    }
    case 'repeated':
      return `DST repeated${o.fold ? ` (${o.fold})` : ''}`;
    default:
      return assertNever(o.dst);
  }
}

/**
 * Fire times as a table in the zone and in UTC, each with the mark the server's engine gave it
 * (`DST gap: shifted from 02:00`, `DST repeated (second)`): the CLI computes no times itself.
 */
export function renderFires(preview: SchedulePreview): string {
  return table(
    ['  LOCAL', 'OFFSET', 'UTC', ''],
    preview.occurrences.map((o) => {
      const { local, offset } = splitLocal(o.local);
      return [`  ${local}`, offset, o.at, dstMark(o)];
    }),
  );
}

/** `DST gap shift, fold first; tz data 2025b`: the resolved policy and whose tz data answered. */
export function describePolicy(preview: SchedulePreview): string {
  return `DST gap ${preview.dst.gap}, fold ${preview.dst.fold}; tz data ${preview.tzdata}`;
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
      () => `Fires of "${expression}" in ${preview.timezone} (${describePolicy(preview)}):\n${renderFires(preview)}`,
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
