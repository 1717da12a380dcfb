import { setTimeout as sleep } from 'node:timers/promises';
import type { RunLogEntry } from '@activity-core/api';
import type { Command } from 'commander';
import { type CommandContext, definitionByKey } from '../context.ts';
import { parseDuration } from '../duration.ts';
import { ExitCode } from '../errors.ts';
import { brief, paint, shortTime } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

/** The part of an entry a person wants on its line. */
export function describeEntry(e: RunLogEntry): string {
  const d = e.data as Record<string, unknown>;
  switch (e.kind) {
    case 'triggered': {
      const t = (d.trigger ?? {}) as Record<string, unknown>;
      const window =
        t.kind === 'window'
          ? `${String(t.mode)} ${brief(t.key, 40)}: ${String(t.count)} events, ${String(t.reason)}`
          : '';
      return [t.kind, t.type, t.nominalTime, t.replayKey ? `replay ${t.replayKey}` : undefined, window]
        .filter(Boolean)
        .join(' ');
    }
    case 'event_joined':
      // One event into a waiting window: its run is `waiting` until the window closes.
      return `${String(d.type)} ${brief(d.id, 40)} joined #${String(d.position)}${d.kept === false ? ' (counted, not kept)' : ''}`;
    case 'window_closed': {
      const by = d.by !== undefined ? ` by ${String(d.by)}` : '';
      return `${String(d.reason)}${by}: ${String(d.count)} events, ${String(d.kept)} kept -> ${String(d.next)}`;
    }
    case 'rules_evaluated': {
      const rules = ((d.rules ?? []) as Array<{ name: string; result: boolean }>).map((r) => `${r.name}=${r.result}`);
      return brief(`${rules.join(' ') || 'no rules'}; ${String(d.tasksPlanned ?? 0)} tasks planned`);
    }
    case 'task_created':
      return `${String(d.templateKey)}[${String(d.index)}] task ${String(d.taskId)}`;
    default:
      return brief(d, 100);
  }
}

const tailCommand =
  (options: { definition?: string; interval: string }): Run =>
  async (ctx) => {
    const interval = parseDuration(options.interval, '--interval');
    const definitionId = options.definition ? (await definitionByKey(ctx, options.definition)).id : undefined;
    const keys = new Map<string, string>();
    const keyOf = async (id: string) => {
      if (!keys.has(id)) {
        const d = await ctx.call((c) => c.definitions.get.query({ id })).catch(() => undefined);
        keys.set(id, d?.key ?? id);
      }
      return keys.get(id) as string;
    };
    // Ctrl-C in a terminal reaches this process and any launcher before it, which forwards it
    // too: every signal after the first is the same request, and ends no more than the first.
    const stopping = new AbortController();
    const stop = (): void => stopping.abort();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const filter = definitionId ? { definitionId } : {};
    /** The next page, or undefined once stopped (an aborted poll included). */
    const follow = async (cursor?: string) => {
      try {
        return await ctx.call((c) =>
          c.runs.follow.query({ ...filter, ...(cursor !== undefined ? { cursor } : {}) }, { signal: stopping.signal }),
        );
      } catch (error) {
        if (stopping.signal.aborted) return undefined;
        throw error;
      }
    };
    try {
      const start = await follow();
      if (!start) return ExitCode.ok;
      let cursor = start.cursor;
      if (ctx.format === 'table') {
        ctx.io.err.write(
          paint(
            ctx.io,
            'dim',
            `following the run log${options.definition ? ` of ${options.definition}` : ''}; Ctrl-C to stop\n`,
            'err',
          ),
        );
      }
      for (;;) {
        const page = await follow(cursor);
        if (!page) return ExitCode.ok;
        cursor = page.cursor;
        for (const e of page.items) {
          if (ctx.format === 'table') {
            const kind = e.kind.startsWith('run_failed') ? paint(ctx.io, 'red', e.kind.padEnd(17)) : e.kind.padEnd(17);
            ctx.io.out.write(
              `${shortTime(e.at)}  ${(await keyOf(e.definitionId)).padEnd(20)} ${e.runId.slice(-12)} #${String(e.seq).padEnd(3)} ${kind} ${describeEntry(e)}\n`,
            );
          } else {
            // One entry per line (JSON lines), also for --output yaml: a stream has no end to wrap.
            ctx.io.out.write(`${JSON.stringify(e)}\n`);
          }
        }
        if (page.more) continue;
        try {
          await sleep(interval, undefined, { signal: stopping.signal });
        } catch {
          return ExitCode.ok;
        }
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  };

export function registerTailCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  program
    .command('runs')
    .description('runs and their logs')
    .command('tail')
    .description('follow run-log entries as they are written, until Ctrl-C (exit code 0)')
    .option('--definition <key>', 'only the runs of this definition')
    .option('--interval <duration>', 'poll interval', '1s')
    .action((options: { definition?: string; interval: string }) => run(tailCommand(options)));
}
