import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { CliError, ExitCode } from '../errors.ts';
import { positiveInt } from '../input.ts';
import { brief, emit, paint, shortTime, table } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

interface Filters {
  reason?: string;
  subject?: string;
}

/** Dead letters redriven per call; the progress moves one batch at a time. */
const REDRIVE_BATCH = 25;

async function listAll(ctx: CommandContext, filters: Filters, max: number) {
  type Page = Awaited<ReturnType<ReturnType<CommandContext['client']>['deadLetters']['list']['query']>>;
  const items: Page['items'] = [];
  let afterSeq: number | undefined;
  do {
    const page: Page = await ctx.call((c) =>
      c.deadLetters.list.query({
        limit: Math.min(500, max - items.length),
        ...(filters.reason ? { reason: filters.reason } : {}),
        ...(filters.subject ? { subject: filters.subject } : {}),
        ...(afterSeq !== undefined ? { afterSeq } : {}),
      }),
    );
    items.push(...page.items);
    afterSeq = page.nextSeq ?? undefined;
  } while (afterSeq !== undefined && items.length < max);
  return items;
}

function lettersTable(items: Awaited<ReturnType<typeof listAll>>): string {
  return table(
    ['SEQ', 'STORED', 'REASON', 'SUBJECT', 'SIZE', 'MESSAGE'],
    items.map((l) => [
      String(l.seq),
      shortTime(l.time),
      l.reason ?? '-',
      l.subject,
      `${l.bodyBytes}${l.bodyOmitted ? ' (by ref)' : ''}`,
      brief(l.message ?? '', 70),
    ]),
  );
}

const listCommand =
  (options: Filters & { limit: string }): Run =>
  async (ctx) => {
    const items = await listAll(ctx, options, positiveInt(options.limit, '--limit', 100_000));
    emit(ctx.io, ctx.format, items, () => (items.length === 0 ? 'no dead letters' : lettersTable(items)));
    return ExitCode.ok;
  };

const showCommand =
  (seqText: string): Run =>
  async (ctx) => {
    const seq = positiveInt(seqText, 'seq');
    const letter = await ctx.call((c) => c.deadLetters.get.query({ seq }));
    emit(ctx.io, ctx.format, letter, () =>
      [
        `Seq:        ${letter.seq} (stored ${shortTime(letter.time)})`,
        `Reason:     ${letter.reason ?? '-'}${letter.field ? ` (field ${letter.field})` : ''}`,
        `Message:    ${letter.message ?? '-'}`,
        `Subject:    ${letter.subject}`,
        `Original:   ${letter.originalStream ?? '-'} #${letter.originalSeq ?? '-'}, ${letter.deliveryCount ?? '-'} deliveries`,
        'Headers:',
        ...Object.entries(letter.headers).map(([k, v]) => `  ${k}: ${v.join(', ')}`),
        `Body (${letter.bodyBytes} bytes${letter.bodyOmitted ? ', read from the events stream' : ''}):`,
        letter.body === null
          ? '  (gone: past the events stream max age)'
          : (letter.body.text ?? `  base64 ${letter.body.base64}`),
      ].join('\n'),
    );
    return ExitCode.ok;
  };

const redriveCommand =
  (options: Filters & { dryRun?: boolean; limit: string }): Run =>
  async (ctx) => {
    const letters = await listAll(ctx, options, positiveInt(options.limit, '--limit', 100_000));
    if (options.dryRun) {
      emit(ctx.io, ctx.format, { wouldRedrive: letters }, () =>
        letters.length === 0
          ? 'nothing to redrive'
          : `${lettersTable(letters)}\nwould redrive ${letters.length} (dry run)`,
      );
      return ExitCode.ok;
    }
    const total = letters.length;
    const tty = ctx.format === 'table' && Boolean(ctx.io.err.isTTY);
    const bar = tty
      ? new cliProgress.SingleBar(
          {
            stream: ctx.io.err as NodeJS.WriteStream,
            format: 'redrive [{bar}] {value}/{total} {failed}',
            hideCursor: true,
          },
          cliProgress.Presets.legacy,
        )
      : undefined;
    bar?.start(total, 0, { failed: '' });
    let redriven = 0;
    const failed: Array<{ seq: number; error: string }> = [];
    for (let i = 0; i < total; i += REDRIVE_BATCH) {
      const batch = letters.slice(i, i + REDRIVE_BATCH);
      const result = await ctx.call((c) =>
        c.events.redrive.mutate({
          fromSeq: batch[0]?.seq ?? 1,
          toSeq: batch[batch.length - 1]?.seq ?? 1,
          limit: batch.length,
          ...(options.reason ? { reason: options.reason } : {}),
          ...(options.subject ? { subject: options.subject } : {}),
        }),
      );
      redriven += result.redriven;
      failed.push(...result.failed);
      if (bar) bar.update(i + batch.length, { failed: failed.length > 0 ? `(${failed.length} failed)` : '' });
      else if (ctx.format === 'table')
        ctx.io.err.write(`redriven ${redriven}/${total}${failed.length > 0 ? `, ${failed.length} failed` : ''}\n`);
    }
    bar?.stop();
    emit(ctx.io, ctx.format, { redriven, failed }, () =>
      [
        `${paint(ctx.io, 'green', `redriven ${redriven}`)} of ${total}`,
        ...failed.map((f) => paint(ctx.io, 'red', `  failed #${f.seq}: ${f.error}`)),
      ].join('\n'),
    );
    if (failed.length > 0)
      throw new CliError(`${failed.length} dead letters could not be redriven; they stay in the DLQ`, ExitCode.failure);
    return ExitCode.ok;
  };

export function registerDlqCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  const dlq = program.command('dlq').description('dead letters: messages ingest parked in AC_DLQ, with the reason');
  const filters = (cmd: Command) =>
    cmd
      .option('--reason <code>', 'only this reason, e.g. invalid_json, max_depth, max_deliveries')
      .option('--subject <filter>', 'only this original subject (NATS wildcards), e.g. "order.>"')
      .option('--limit <n>', 'at most this many', '1000');
  filters(dlq.command('list').description('dead letters, oldest first')).action((o: Filters & { limit: string }) =>
    run(listCommand(o)),
  );
  dlq
    .command('show')
    .description('one dead letter: reason, headers, body')
    .argument('<seq>', 'its sequence in AC_DLQ (see dlq list)')
    .action((seq: string) => run(showCommand(seq)));
  filters(
    dlq.command('redrive').description('move dead letters back to AC_EVENTS on their original subject, oldest first'),
  )
    .option('--dry-run', 'only list what would be redriven')
    .action((o: Filters & { dryRun?: boolean; limit: string }) => run(redriveCommand(o)));
}
