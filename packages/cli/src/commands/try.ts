import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { ActivityCoreClient } from '../api.ts';
import { type CommandContext, definitionByKey } from '../context.ts';
import { loadDefinitions, type SourceDocument } from '../documents.ts';
import { parseInstantOrAgo } from '../duration.ts';
import { CliError, ExitCode } from '../errors.ts';
import { jsonArgument, positiveInt } from '../input.ts';
import { brief, emit, paint } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;
type BacktestResult = Awaited<ReturnType<ActivityCoreClient['definitions']['backtest']['query']>>;
type ReplayResult = Awaited<ReturnType<ActivityCoreClient['definitions']['replay']['mutate']>>;

/** The one definition document of `-f` (with `--key` when the files hold several). */
function oneDefinition(ctx: CommandContext, files: string[], key: string | undefined): SourceDocument {
  const docs = loadDefinitions(files, ctx.cwd);
  const chosen = key === undefined ? docs : docs.filter((d) => (d.value as { key?: unknown }).key === key);
  if (chosen.length !== 1) {
    throw new CliError(
      key === undefined
        ? `the files hold ${docs.length} definitions; choose one with --key`
        : `no definition with the key "${key}" in the files`,
      ExitCode.usage,
    );
  }
  return chosen[0] as SourceDocument;
}

const mark = (ctx: CommandContext, passed: boolean | null) =>
  passed === null ? paint(ctx.io, 'dim', '–') : passed ? paint(ctx.io, 'green', '✓') : paint(ctx.io, 'red', '✗');

const dryRunCommand =
  (options: { file: string[]; key?: string; event: string; now?: string }): Run =>
  async (ctx) => {
    const doc = oneDefinition(ctx, options.file, options.key);
    const event = jsonArgument(options.event, '--event', ctx.cwd);
    const result = await ctx.call((c) =>
      c.definitions.dryRun.query({
        definition: doc.value as never,
        event: event as never,
        ...(options.now !== undefined ? { now: parseInstantOrAgo(options.now, '--now').toISOString() } : {}),
      }),
    );
    emit(ctx.io, ctx.format, result, () => {
      const lines = [
        result.wouldTrigger
          ? paint(ctx.io, 'green', `would run and spawn ${result.tasks.length} task(s)`)
          : paint(
              ctx.io,
              'yellow',
              `would not spawn tasks${
                result.match.matched
                  ? ''
                  : `: ${result.match.reason}${result.match.errorCode ? `/${result.match.errorCode}` : ''} (${result.match.detail})`
              }`,
            ),
        '',
        'Trigger:',
        ...result.checks.map((c) => `  ${mark(ctx, c.passed)} ${c.check.padEnd(7)} ${c.detail}`),
        ...(result.match.cost !== null && result.match.budget !== null
          ? [`          cost ${result.match.cost} of a budget of ${result.match.budget} units`]
          : []),
        ...(result.window === null
          ? []
          : 'key' in result.window
            ? [`  ${mark(ctx, true)} window  key ${brief(result.window.key, 80)} (planned as a window of one event)`]
            : [
                `  ${mark(ctx, false)} window  key ${result.window.code}: ${brief(result.window.error, 100)} (parked as window_key)`,
              ]),
        'Rules:',
        ...(result.rules.length === 0 ? ['  (none)'] : result.rules.map((r) => `  ${mark(ctx, r.result)} ${r.name}`)),
      ];
      if (result.unresolvedSources.length > 0) {
        lines.push(`Context:  not called in a dry run: ${result.unresolvedSources.join(', ')}`);
      }
      if (result.planError)
        lines.push(paint(ctx.io, 'red', `Plan error: ${result.planError.path}: ${result.planError.message}`));
      lines.push('Tasks:');
      if (result.tasks.length === 0) lines.push('  (none)');
      for (const t of result.tasks) {
        const task = t as { templateKey: string; index: number; title: string; assignee?: string; dueAt?: string };
        lines.push(
          `  ${task.templateKey}[${task.index}] ${task.title}${task.assignee ? ` → ${task.assignee}` : ''}${task.dueAt ? ` (due ${task.dueAt})` : ''}`,
        );
      }
      return lines.join('\n');
    });
    return ExitCode.ok;
  };

const publishCommand =
  (options: { type: string; data?: string; source: string; id?: string; subject?: string }): Run =>
  async (ctx) => {
    const data = options.data !== undefined ? jsonArgument(options.data, '--data', ctx.cwd) : undefined;
    const result = await ctx.call((c) =>
      c.events.publish.mutate({
        specversion: '1.0',
        id: options.id ?? randomUUID(),
        source: options.source,
        type: options.type,
        time: new Date().toISOString(),
        ...(options.subject !== undefined ? { subject: options.subject } : {}),
        ...(data !== undefined ? { datacontenttype: 'application/json', data: data as never } : {}),
      }),
    );
    emit(
      ctx.io,
      ctx.format,
      result,
      () =>
        `published to ${result.subject} (${result.stream} #${result.seq})${result.duplicate ? ', a duplicate: dropped by JetStream' : ''}`,
    );
    return ExitCode.ok;
  };

interface WindowOptions {
  file?: string[];
  key?: string;
  definition?: string;
  version?: string;
  since: string;
  until?: string;
  subject?: string;
  limit: string;
  afterSeq?: string;
  sample: string;
}

function windowInput(o: WindowOptions) {
  return {
    from: parseInstantOrAgo(o.since, '--since').toISOString(),
    ...(o.until !== undefined ? { to: parseInstantOrAgo(o.until, '--until').toISOString() } : {}),
    ...(o.subject !== undefined ? { subject: o.subject } : {}),
    ...(o.afterSeq !== undefined ? { afterSeq: Number(o.afterSeq) } : {}),
    limit: positiveInt(o.limit, '--limit', 10_000),
    sampleSize: Number(o.sample),
  };
}

function renderCounts(ctx: CommandContext, r: BacktestResult): string[] {
  const lines = [
    `Window:     ${r.window.from} … ${r.window.to} on ${r.window.subject}`,
    `Read:       ${r.scanned} messages, ${r.events} events${r.duplicates > 0 ? `, ${r.duplicates} duplicates` : ''}${
      r.invalid.count > 0
        ? `, ${r.invalid.count} invalid (${Object.entries(r.invalid.byReason)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : ''
    }`,
    `Rejected:   type ${r.rejected.type}, source ${r.rejected.source}, filter ${r.rejected.filter}, rule ${r.rejected.rule}`,
    `Errors:     filter ${r.errors.filter}, ${r.errors.windowKey > 0 ? `window key ${r.errors.windowKey}, ` : ''}plan ${r.errors.plan}`,
    `Matched:    ${paint(ctx.io, 'bold', String(r.matched))} (would start a run)${r.alreadyRun !== null ? `, ${r.alreadyRun} already ran live` : ''}`,
    `Spawning:   ${r.spawning} runs, ${r.tasksPlanned} tasks${r.noTasks > 0 ? ` (${r.noTasks} runs plan none)` : ''}`,
  ];
  if (r.unresolvedSources.length > 0) {
    lines.push(`Context:    not called: ${r.unresolvedSources.join(', ')} (give stand-ins with --context @file.json)`);
  }
  for (const e of r.errors.samples)
    lines.push(paint(ctx.io, 'red', `  #${e.seq} ${e.stage} ${e.code} ${e.path}: ${brief(e.message, 100)}`));
  if (r.sample.length > 0) {
    lines.push('Sample:');
    for (const s of r.sample) {
      lines.push(`  #${s.seq} ${s.type} ${s.id}`);
      for (const t of s.tasks)
        lines.push(`      ${t.templateKey}[${t.index}] ${t.title}${t.assignee ? ` → ${t.assignee}` : ''}`);
    }
  }
  if (r.truncated) {
    lines.push(
      paint(ctx.io, 'yellow', `Stopped after --limit ${r.scanned} messages; continue with --after-seq ${r.lastSeq}`),
    );
  }
  return lines;
}

const backtestCommand =
  (o: WindowOptions & { context?: string }): Run =>
  async (ctx) => {
    const context = o.context !== undefined ? jsonArgument(o.context, '--context', ctx.cwd) : {};
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new CliError('--context: expected a JSON object of context source names to values', ExitCode.invalid);
    }
    let target: { definition: never } | { definitionId: string; version?: number };
    if (o.file) target = { definition: oneDefinition(ctx, o.file, o.key).value as never };
    else if (o.definition) {
      const d = await definitionByKey(ctx, o.definition);
      target = {
        definitionId: d.id,
        ...(o.version !== undefined ? { version: positiveInt(o.version, '--version') } : {}),
      };
    } else throw new CliError('give -f <file> or --definition <key>', ExitCode.usage);
    const result = await ctx.call((c) =>
      c.definitions.backtest.query({ ...target, ...windowInput(o), context: context as Record<string, never> }),
    );
    emit(ctx.io, ctx.format, result, () =>
      [
        `Backtest of ${result.definition.key}${result.definition.version !== null ? ` v${result.definition.version}` : ' (unsaved)'}`,
        ...renderCounts(ctx, result),
      ].join('\n'),
    );
    return ExitCode.ok;
  };

const replayCommand =
  (o: WindowOptions & { confirm?: boolean; replayKey?: string }): Run =>
  async (ctx) => {
    let key = o.definition;
    if (o.file) {
      const doc = oneDefinition(ctx, o.file, o.key);
      key = (doc.value as { key: string }).key;
      // Only what is saved can run: the file must be what apply saved.
      const diff = await ctx.call((c) => c.definitions.diff.query({ documents: [doc.value] }));
      const item = diff.items[0];
      if (item?.action !== 'unchanged' && o.version === undefined) {
        throw new CliError(
          `${doc.file}: "${key}" ${item?.action === 'create' ? 'is not saved' : 'differs from the saved version'}; apply it first (or replay a saved --version)`,
          ExitCode.invalid,
        );
      }
    }
    if (!key) throw new CliError('give -f <file> or --definition <key>', ExitCode.usage);
    const definition = await definitionByKey(ctx, key);
    const input = {
      definitionId: definition.id,
      ...(o.version !== undefined ? { version: positiveInt(o.version, '--version') } : {}),
      ...windowInput(o),
      ...(o.replayKey !== undefined ? { replayKey: o.replayKey } : {}),
    };
    if (!o.confirm) {
      const preview = await ctx.call((c) => c.definitions.backtest.query(input));
      emit(ctx.io, ctx.format, { confirmed: false, backtest: preview }, () =>
        [
          ...renderCounts(ctx, preview),
          paint(
            ctx.io,
            'yellow',
            `Nothing started: replay would start up to ${preview.matched} runs. Add --confirm to start them.`,
          ),
        ].join('\n'),
      );
      return ExitCode.ok;
    }
    const result: ReplayResult = await ctx.call((c) => c.definitions.replay.mutate(input));
    emit(ctx.io, ctx.format, result, () =>
      [
        `Replay of ${result.definition.key} v${result.definition.version} (replay key ${result.replayKey})`,
        ...renderCounts(ctx, result),
        `Started:    ${paint(ctx.io, 'green', String(result.started))} runs; ${result.alreadyReplayed} already replayed, ${result.skippedLive} ran live (skipped)`,
        ...result.failed.map((f) => paint(ctx.io, 'red', `  failed #${f.seq}: ${f.error}`)),
      ].join('\n'),
    );
    if (result.failed.length > 0)
      throw new CliError(
        `${result.failed.length} runs could not be started; replay again to retry them`,
        ExitCode.failure,
      );
    return ExitCode.ok;
  };

export function registerTryCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  program
    .command('dry-run')
    .description('what a definition would do with one event: each trigger check, the rules, the planned tasks')
    .requiredOption('-f, --file <path...>', 'the definition file')
    .option('--key <key>', 'which definition, when the file holds several')
    .requiredOption('--event <json>', 'the CloudEvent: @event.json, - for standard input, or inline JSON')
    .option('--now <instant>', 'the clock for due dates (ISO 8601)')
    .action((o: { file: string[]; key?: string; event: string; now?: string }) => run(dryRunCommand(o)));
  program
    .command('events')
    .description('events')
    .command('publish')
    .description('publish a CloudEvent to AC_EVENTS on events.<type>')
    .requiredOption('--type <type>', 'CloudEvent type, e.g. order.created')
    .option('--data <json>', 'the data: @file.json, - for standard input, or inline JSON')
    .option('--source <uri>', 'CloudEvent source', 'urn:activity-core:cli')
    .option('--id <id>', 'CloudEvent id (default: a new UUID); a repeat within the duplicate window is dropped')
    .option('--subject <subject>', 'CloudEvent subject attribute')
    .action((o: { type: string; data?: string; source: string; id?: string; subject?: string }) =>
      run(publishCommand(o)),
    );
  const windowed = (cmd: Command) =>
    cmd
      .option('-f, --file <path...>', 'the definition file (backtest: saved or not)')
      .option('--key <key>', 'which definition, when the file holds several')
      .option('--definition <key>', 'a saved definition instead of a file')
      .option('--version <n>', 'with --definition: this saved version (default: current)')
      .requiredOption('--since <when>', 'window start: a time ago (24h, 30m, 7d) or an ISO 8601 instant')
      .option('--until <when>', 'window end (default: now)')
      .option('--subject <filter>', 'only events on this subject, e.g. "events.order.>"')
      .option('--limit <n>', 'read at most this many messages (backtest up to 10000, replay up to 1000)', '1000')
      .option('--after-seq <seq>', 'continue after this stream sequence (a truncated result says which)')
      .option('--sample <n>', 'planned-task samples shown', '5');
  windowed(program.command('backtest'))
    .description('what a definition would have done with the events stored in a window; starts nothing')
    .option('--context <json>', 'stand-ins for context sources a backtest does not call: @file.json or inline JSON')
    .action((o: WindowOptions & { context?: string }) => run(backtestCommand(o)));
  windowed(program.command('replay'))
    .description('start the runs a saved definition would have started for a window of stored events (needs --confirm)')
    .option('--confirm', 'start the runs (without it: a backtest of what would start)')
    .option(
      '--replay-key <key>',
      'scope of the replay in run ids; the same key never starts a run twice for an event',
      'default',
    )
    .action((o: WindowOptions & { confirm?: boolean; replayKey?: string }) => run(replayCommand(o)));
}
