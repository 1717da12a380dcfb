import { type Database, lastSuccessfulRun } from '@activity-core/db';
import type { Kysely } from 'kysely';
import type { SourceResolver } from './source-resolver.ts';

/** `previousRun`: the definition's last successful run (id, finish time, summary), or null. */
export function previousRunSource(db: Kysely<Database>): SourceResolver<'previousRun'> {
  return async (_source, scope) => {
    const run = await lastSuccessfulRun(db, scope.definition.id);
    const value = run
      ? { runId: run.id, finishedAt: run.finishedAt?.toISOString() ?? null, summary: run.summary ?? null }
      : null;
    return { value };
  };
}
