import type { Run as ApiRun } from '@activity-core/api';
import type { Command } from 'commander';
import { type CommandContext, definitionByKey } from '../context.ts';
import { CliError, ExitCode } from '../errors.ts';
import { positiveInt } from '../input.ts';
import { brief, emit, shortTime, table } from '../output.ts';
import { describePolicy, renderFires } from './schedule.ts';

type Run = (ctx: CommandContext) => Promise<number>;

const RESOURCES = ['definitions', 'runs', 'tasks'] as const;

interface GetOptions {
  definition?: string;
  status?: string[];
  trigger?: 'event' | 'cron' | 'manual' | 'window';
  assignee?: string;
  label?: string[];
  prefix?: string;
  archived?: boolean;
  disabled?: boolean;
  limit: string;
}

const getCommand =
  (resource: string, options: GetOptions): Run =>
  async (ctx) => {
    const limit = positiveInt(options.limit, '--limit', 500);
    const definitionId = options.definition ? (await definitionByKey(ctx, options.definition)).id : undefined;
    switch (resource) {
      case 'definitions': {
        const page = await ctx.call((c) =>
          c.definitions.list.query({
            limit,
            archived: options.archived ? 'any' : false,
            ...(options.prefix !== undefined ? { keyPrefix: options.prefix } : {}),
            ...(options.disabled ? { enabled: false } : {}),
          }),
        );
        emit(ctx.io, ctx.format, page.items, () =>
          table(
            ['KEY', 'VERSION', 'TRIGGER', 'STATE', 'UPDATED', 'NAME'],
            page.items.map((d) => [
              d.key,
              `v${d.version}`,
              d.spec.trigger.kind === 'cron'
                ? `cron ${d.spec.trigger.cron.expression} ${d.spec.trigger.cron.timezone}`
                : `event ${d.spec.trigger.event.types.join(',')}`,
              d.archived ? 'archived' : d.enabled ? 'enabled' : 'disabled',
              shortTime(d.updatedAt),
              d.spec.name,
            ]),
          ),
        );
        return ExitCode.ok;
      }
      case 'runs': {
        const page = await ctx.call((c) =>
          c.runs.list.query({
            limit,
            ...(definitionId ? { definitionId } : {}),
            ...(options.status ? { status: options.status as never } : {}),
            ...(options.trigger ? { triggerKind: options.trigger } : {}),
          }),
        );
        emit(ctx.io, ctx.format, page.items, () =>
          table(
            ['RUN', 'STATUS', 'TRIGGER', 'VERSION', 'TASKS', 'CREATED', 'WINDOW', 'KEY'],
            page.items.map((r) => [
              r.id,
              r.status,
              r.triggerKind,
              `v${r.definitionVersion}`,
              String((r.summary as { tasksPlanned?: number } | null)?.tasksPlanned ?? '-'),
              shortTime(r.createdAt),
              windowCell(r.window),
              brief(r.triggerKey, 48),
            ]),
          ),
        );
        return ExitCode.ok;
      }
      case 'tasks': {
        const page = await ctx.call((c) =>
          c.tasks.list.query({
            limit,
            ...(definitionId ? { definitionId } : {}),
            ...(options.status ? { status: options.status as never } : {}),
            ...(options.assignee ? { assignee: options.assignee } : {}),
            ...(options.label ? { labels: options.label } : {}),
          }),
        );
        emit(ctx.io, ctx.format, page.items, () =>
          table(
            ['TASK', 'STATUS', 'DEFINITION', 'ASSIGNEE', 'DUE', 'TITLE'],
            page.items.map((t) => [t.id, t.status, t.definitionKey, t.assignee ?? '-', shortTime(t.dueAt), t.title]),
          ),
        );
        return ExitCode.ok;
      }
      default:
        throw new CliError(`get: expected one of ${RESOURCES.join(', ')}, got "${resource}"`, ExitCode.usage);
    }
  };

const describeCommand =
  (kind: string, key: string, options: { runs: string; fires: string }): Run =>
  async (ctx) => {
    if (kind !== 'definition') throw new CliError(`describe: expected "definition", got "${kind}"`, ExitCode.usage);
    const definition = await definitionByKey(ctx, key);
    const [versions, runs] = await Promise.all([
      ctx.call((c) => c.definitions.versions.query({ id: definition.id })),
      ctx.call((c) =>
        c.runs.list.query({ definitionId: definition.id, limit: positiveInt(options.runs, '--runs', 500) }),
      ),
    ]);
    const cron = definition.spec.trigger.kind === 'cron' && !definition.archived;
    const [schedule, preview] = cron
      ? await Promise.all([
          ctx.call((c) => c.schedules.describe.query({ definitionId: definition.id })),
          ctx.call((c) =>
            c.definitions.previewSchedule.query({
              definitionId: definition.id,
              count: positiveInt(options.fires, '--fires', 100),
            }),
          ),
        ])
      : [null, null];
    const value = { definition, versions, schedule, nextFires: preview, recentRuns: runs.items };
    emit(ctx.io, ctx.format, value, () => {
      const d = definition;
      const lines = [
        `Key:        ${d.key}`,
        `Name:       ${d.spec.name}`,
        `Id:         ${d.id}`,
        `State:      ${d.archived ? `archived ${shortTime(d.archivedAt)}` : d.enabled ? 'enabled' : 'disabled'}`,
        `Version:    v${d.version} (${shortTime(d.versionCreatedAt)}${d.versionCreatedBy ? ` by ${d.versionCreatedBy}` : ''})`,
        d.spec.trigger.kind === 'cron'
          ? `Trigger:    cron "${d.spec.trigger.cron.expression}" in ${d.spec.trigger.cron.timezone}`
          : `Trigger:    event ${d.spec.trigger.event.types.join(', ')}${d.spec.trigger.event.source ? ` from ${d.spec.trigger.event.source}` : ''}${d.spec.trigger.event.filter ? ` if ${d.spec.trigger.event.filter}` : ''}`,
        '',
        'Versions:',
        table(
          ['  VERSION', 'CREATED', 'BY'],
          versions.map((v) => [`  v${v.version}`, shortTime(v.createdAt), v.createdBy ?? '-']),
        ),
      ];
      if (schedule && preview) {
        lines.push(
          '',
          `Schedule:   ${schedule.paused ? 'paused' : 'active'}, ${schedule.firesTaken} fires taken, ${schedule.missedCatchupWindow} missed`,
          `Zone:       ${preview.timezone}, ${describePolicy(preview)}`,
          'Next fires:',
          renderFires(preview),
        );
      }
      lines.push(
        '',
        'Recent runs:',
        runs.items.length === 0
          ? '  (none)'
          : table(
              ['  RUN', 'STATUS', 'TRIGGER', 'VERSION', 'CREATED'],
              runs.items.map((r) => [
                `  ${r.id}`,
                r.status,
                r.triggerKind,
                `v${r.definitionVersion}`,
                shortTime(r.createdAt),
              ]),
            ),
      );
      return lines.join('\n');
    });
    return ExitCode.ok;
  };

/**
 * A window run's window on one line: mode, key, events so far, and how it closed (`open`
 * while it waits). `-` for other runs.
 */
export function windowCell(window: ApiRun['window'] | undefined): string {
  if (!window) return '-';
  const kept = window.stored < window.count ? ` (${window.stored} kept)` : '';
  return `${window.mode} ${brief(window.key, 24)} ${window.count} ev${kept} ${window.reason ?? 'open'}`;
}

export function registerLookCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  program
    .command('get')
    .description('list definitions, runs or tasks')
    .argument('<resource>', RESOURCES.join(' | '))
    .option('--definition <key>', 'runs, tasks: of this definition')
    .option('--status <status...>', 'runs, tasks: with one of these statuses')
    .option('--trigger <kind>', 'runs: event, cron, manual or window')
    .option('--assignee <name>', 'tasks: assigned to')
    .option('--label <label...>', 'tasks: carrying all of these labels')
    .option('--prefix <keyPrefix>', 'definitions: whose key starts with this')
    .option('--archived', 'definitions: include archived ones')
    .option('--disabled', 'definitions: only disabled ones')
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .action((resource: string, options: GetOptions) => run(getCommand(resource, options)));
  program
    .command('describe')
    .description('a definition: versions, schedule state and next fires, recent runs')
    .argument('<kind>', 'definition')
    .argument('<key>', 'the definition key')
    .option('--runs <n>', 'recent runs shown', '10')
    .option('--fires <n>', 'next fires shown (cron)', '5')
    .action((kind: string, key: string, options: { runs: string; fires: string }) =>
      run(describeCommand(kind, key, options)),
    );
}
