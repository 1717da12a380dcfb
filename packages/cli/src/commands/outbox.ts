import type { OutboxEntry } from '@activity-core/api';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { CliError, ExitCode } from '../errors.ts';
import { positiveInt } from '../input.ts';
import { brief, emit, paint, shortTime, table } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

/** What holds a row, in a few words: skipped, publishing now, waiting, failing, or when it is due. */
export function outboxState(r: OutboxEntry, now = Date.now()): string {
  if (r.skipped) return `skipped by ${r.skipped.by}: ${brief(r.skipped.reason, 50)}`;
  if (r.leasedUntil) return 'publishing';
  if (r.waitingFor) return `waits for ${r.waitingFor}`;
  const due = Date.parse(r.nextAttemptAt) <= now ? 'due' : `next ${shortTime(r.nextAttemptAt)}`;
  return r.lastError ? `failing (${due}): ${brief(r.lastError, 60)}` : due;
}

/** The outbox rows as a table. */
export function outboxTable(items: readonly OutboxEntry[], now = Date.now()): string {
  return table(
    ['SEQ', 'ID', 'SUBJECT', 'WRITTEN', 'ATTEMPTS', 'STATE'],
    items.map((r) => [r.seq, r.id, r.subject, shortTime(r.createdAt), String(r.attempts), outboxState(r, now)]),
  );
}

type ListOptions = { failing?: boolean; skipped?: boolean; limit: string };

const listCommand =
  (options: ListOptions): Run =>
  async (ctx) => {
    if (options.failing && options.skipped)
      throw new CliError('--failing and --skipped exclude each other', ExitCode.usage);
    const state = options.failing ? 'failing' : options.skipped ? 'skipped' : 'pending';
    const max = positiveInt(options.limit, '--limit', 100_000);
    const items: OutboxEntry[] = [];
    let afterSeq: string | undefined;
    do {
      const page = await ctx.call((c) =>
        c.outbox.list.query({
          state,
          limit: Math.min(500, max - items.length),
          ...(afterSeq !== undefined ? { afterSeq } : {}),
        }),
      );
      items.push(...page.items);
      afterSeq = page.nextSeq ?? undefined;
    } while (afterSeq !== undefined && items.length < max);
    const none = {
      pending: 'every task event is published',
      failing: 'no failing task events',
      skipped: 'no skipped task events',
    };
    emit(ctx.io, ctx.format, items, () => (items.length === 0 ? none[state] : outboxTable(items)));
    return ExitCode.ok;
  };

const retryCommand =
  (id: string): Run =>
  async (ctx) => {
    const result = await ctx.call((c) => c.outbox.retry.mutate({ id }));
    emit(ctx.io, ctx.format, result, () => `${paint(ctx.io, 'green', 'due now:')} ${id}`);
    return ExitCode.ok;
  };

const skipCommand =
  (id: string, options: { reason: string }): Run =>
  async (ctx) => {
    const result = await ctx.call((c) => c.outbox.skip.mutate({ id, reason: options.reason }));
    emit(
      ctx.io,
      ctx.format,
      result,
      () => `${paint(ctx.io, 'yellow', 'skipped:')} ${id} (not published; its task's next events go)`,
    );
    return ExitCode.ok;
  };

export function registerOutboxCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  const outbox = program
    .command('outbox')
    .description('task events the worker has not published to AC_TASKS yet, and what holds them');
  outbox
    .command('list')
    .description('unpublished task events in write order, with their last error and what each waits for')
    .option('--failing', 'only those whose last publish failed')
    .option('--skipped', 'instead, the events an operator skipped (who, why)')
    .option('--limit <n>', 'at most this many', '1000')
    .action((o: ListOptions) => run(listCommand(o)));
  outbox
    .command('retry')
    .description('publish a failing event now instead of after its backoff (admin)')
    .argument('<id>', 'the outbox row id (see outbox list)')
    .action((id: string) => run(retryCommand(id)));
  outbox
    .command('skip')
    .description("give up on an event that cannot be published; its task's later events then go (admin)")
    .argument('<id>', 'the outbox row id (see outbox list)')
    .requiredOption('--reason <text>', 'why (kept on the row, with your token name)')
    .action((id: string, o: { reason: string }) => run(skipCommand(id, o)));
}
