import type { PendingOutboxEntry } from '@activity-core/api';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { ExitCode } from '../errors.ts';
import { positiveInt } from '../input.ts';
import { brief, emit, paint, shortTime, table } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

/** The outbox rows as a table: the failing ones first name their error, the held ones what they wait for. */
export function outboxTable(items: readonly PendingOutboxEntry[]): string {
  return table(
    ['SEQ', 'ID', 'SUBJECT', 'WRITTEN', 'ATTEMPTS', 'NEXT', 'STATE'],
    items.map((r) => [
      r.seq,
      r.id,
      r.subject,
      shortTime(r.createdAt),
      String(r.attempts),
      shortTime(r.nextAttemptAt),
      r.waitingFor ? `waits for ${r.waitingFor}` : r.lastError ? `failing: ${brief(r.lastError, 60)}` : 'due',
    ]),
  );
}

const listCommand =
  (options: { failing?: boolean; limit: string }): Run =>
  async (ctx) => {
    const max = positiveInt(options.limit, '--limit', 100_000);
    const items: PendingOutboxEntry[] = [];
    let afterSeq: string | undefined;
    do {
      const page = await ctx.call((c) =>
        c.outbox.list.query({
          failing: options.failing ?? false,
          limit: Math.min(500, max - items.length),
          ...(afterSeq !== undefined ? { afterSeq } : {}),
        }),
      );
      items.push(...page.items);
      afterSeq = page.nextSeq ?? undefined;
    } while (afterSeq !== undefined && items.length < max);
    emit(ctx.io, ctx.format, items, () =>
      items.length === 0
        ? options.failing
          ? 'no failing task events'
          : 'every task event is published'
        : outboxTable(items),
    );
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
    .option('--limit <n>', 'at most this many', '1000')
    .action((o: { failing?: boolean; limit: string }) => run(listCommand(o)));
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
