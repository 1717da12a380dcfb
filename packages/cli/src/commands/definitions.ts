import type { DiffItem, DiffResult } from '@activity-core/api';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { formatProblem, loadDefinitions, type SourceDocument } from '../documents.ts';
import { CliError, ExitCode } from '../errors.ts';
import { brief, emit, paint } from '../output.ts';

type Run = (ctx: CommandContext) => Promise<number>;

interface PlanOptions {
  readonly file: string[];
  readonly prune?: boolean;
  readonly keyPrefix?: string;
}

/** Reads and checks the files, then asks the API what would change; invalid documents stop everything. */
async function plan(ctx: CommandContext, options: PlanOptions): Promise<{ docs: SourceDocument[]; diff: DiffResult }> {
  const docs = loadDefinitions(options.file, ctx.cwd);
  const diff = await ctx.call((c) =>
    c.definitions.diff.query({
      documents: docs.map((d) => d.value),
      prune: options.prune ?? false,
      ...(options.keyPrefix !== undefined ? { keyPrefix: options.keyPrefix } : {}),
    }),
  );
  const problems: string[] = [];
  for (const item of diff.items) {
    const doc = docs[item.index] as SourceDocument;
    for (const e of item.errors) {
      problems.push(
        formatProblem({ file: doc.file, n: doc.n, path: e.path, message: e.message, line: doc.lineOf(e.path) }),
      );
    }
    if (item.archived) {
      problems.push(
        formatProblem({
          file: doc.file,
          n: doc.n,
          path: 'key',
          message: `definition "${item.key}" is archived; an archived key is not reused`,
          line: doc.lineOf('key'),
        }),
      );
    }
  }
  if (problems.length > 0) {
    throw new CliError(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the definition files; nothing was applied`,
      ExitCode.invalid,
      problems,
    );
  }
  return { docs, diff };
}

function where(docs: SourceDocument[], item: DiffItem): string {
  const doc = docs[item.index] as SourceDocument;
  return doc.n > 1 ? `${doc.file}#${doc.n}` : doc.file;
}

function renderChanges(ctx: CommandContext, item: DiffItem): string[] {
  return item.changes.map((c) => {
    switch (c.kind) {
      case 'added':
        return `      ${paint(ctx.io, 'green', `+ ${c.path}: ${brief(JSON.stringify(c.after), 100)}`)}`;
      case 'removed':
        return `      ${paint(ctx.io, 'red', `- ${c.path}: ${brief(JSON.stringify(c.before), 100)}`)}`;
      case 'changed':
        return `      ${paint(ctx.io, 'yellow', `~ ${c.path}: ${brief(JSON.stringify(c.before), 60)} → ${brief(JSON.stringify(c.after), 60)}`)}`;
      default:
        return '';
    }
  });
}

function summary(diff: DiffResult): { create: number; update: number; unchanged: number; archive: number } {
  return {
    create: diff.items.filter((i) => i.action === 'create').length,
    update: diff.items.filter((i) => i.action === 'update').length,
    unchanged: diff.items.filter((i) => i.action === 'unchanged').length,
    archive: diff.prune.length,
  };
}

const diffCommand =
  (options: PlanOptions): Run =>
  async (ctx) => {
    const { docs, diff } = await plan(ctx, options);
    const counts = summary(diff);
    emit(ctx.io, ctx.format, { ...diff, summary: counts }, () => {
      const lines: string[] = [];
      for (const item of diff.items) {
        const key = (item.key ?? '').padEnd(28);
        if (item.action === 'create')
          lines.push(`${paint(ctx.io, 'green', '+ create   ')} ${key} ${where(docs, item)}`);
        else if (item.action === 'update') {
          lines.push(`${paint(ctx.io, 'yellow', '~ update   ')} ${key} v${item.version} → v${(item.version ?? 0) + 1}`);
          lines.push(...renderChanges(ctx, item));
        } else lines.push(`${paint(ctx.io, 'dim', '= unchanged')} ${key} v${item.version}`);
      }
      for (const p of diff.prune)
        lines.push(`${paint(ctx.io, 'red', '- archive  ')} ${p.key.padEnd(28)} v${p.version}`);
      lines.push(
        `Plan: ${counts.create} to create, ${counts.update} to update, ${counts.unchanged} unchanged${options.prune ? `, ${counts.archive} to archive` : ''}.`,
      );
      return lines.join('\n');
    });
    return counts.create + counts.update + counts.archive > 0 ? ExitCode.changes : ExitCode.ok;
  };

const applyCommand =
  (options: PlanOptions): Run =>
  async (ctx) => {
    const { docs, diff } = await plan(ctx, options);
    const results: Array<{ key: string; action: string; id: string; version: number }> = [];
    for (const item of diff.items) {
      const spec = (docs[item.index] as SourceDocument).value as never;
      if (item.action === 'create') {
        const created = await ctx.call((c) => c.definitions.create.mutate({ spec }));
        results.push({ key: created.key, action: 'created', id: created.id, version: created.version });
      } else if (item.action === 'update') {
        const updated = await ctx.call((c) =>
          c.definitions.update.mutate({ id: item.id as string, expectedVersion: item.version as number, spec }),
        );
        results.push({ key: updated.key, action: 'updated', id: updated.id, version: updated.version });
      } else {
        results.push({
          key: item.key as string,
          action: 'unchanged',
          id: item.id as string,
          version: item.version as number,
        });
      }
    }
    for (const p of diff.prune) {
      const archived = await ctx.call((c) => c.definitions.archive.mutate({ id: p.id }));
      results.push({ key: archived.key, action: 'archived', id: archived.id, version: archived.version });
    }
    emit(ctx.io, ctx.format, results, () =>
      results
        .map((r) => {
          const style =
            r.action === 'created'
              ? 'green'
              : r.action === 'updated'
                ? 'yellow'
                : r.action === 'archived'
                  ? 'red'
                  : 'dim';
          return `${paint(ctx.io, style, r.action.padEnd(9))} ${r.key.padEnd(28)} v${r.version}`;
        })
        .join('\n'),
    );
    return ExitCode.ok;
  };

export function registerDefinitionCommands(program: Command, run: (fn: Run) => Promise<void>): void {
  const files = (cmd: Command) =>
    cmd
      .requiredOption('-f, --file <path...>', 'definition files or folders (YAML or JSON, several documents per file)')
      .option('--prune', 'also archive live definitions that no document names')
      .option('--key-prefix <prefix>', 'with --prune: only definitions whose key starts with this');
  files(program.command('apply'))
    .description('create or update definitions by key, idempotently; every document is validated before any is written')
    .action((options: PlanOptions) => run(applyCommand(options)));
  files(program.command('diff'))
    .description('show what apply would change; exit code 2 when there are changes, 0 when none')
    .action((options: PlanOptions) => run(diffCommand(options)));
}
