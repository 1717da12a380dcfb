import { type Database, openTasksByDedupeKey } from '@activity-core/db';
import type { Kysely } from 'kysely';
import { ContextSourceError } from './errors.ts';
import type { SourceResolver } from './source-resolver.ts';

/** `openTasks`: the definition's open tasks under the rendered `dedupeKey`. */
export function openTasksSource(db: Kysely<Database>): SourceResolver<'openTasks'> {
  return async (source, scope) => {
    const { dedupeKey } = scope.render() as { dedupeKey?: unknown };
    if (typeof dedupeKey !== 'string' || dedupeKey === '') {
      throw new ContextSourceError(source.name, 'dedupeKey did not render to a non-empty string', {
        retryable: false,
      });
    }
    const tasks = await openTasksByDedupeKey(db, scope.definition.id, dedupeKey);
    const value = tasks.map((t) => ({
      id: t.id,
      workflowId: t.workflowId,
      title: t.title,
      assignee: t.assignee,
      dueAt: t.dueAt?.toISOString() ?? null,
      createdAt: t.createdAt.toISOString(),
    }));
    return { value, detail: { dedupeKey } };
  };
}
