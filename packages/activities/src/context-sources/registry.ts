import type { Database } from '@activity-core/db';
import type { Kysely } from 'kysely';
import { type ContextResolverRegistry, customSource } from './custom.ts';
import { type HttpSourceSettings, httpSource } from './http.ts';
import { openTasksSource } from './open-tasks.ts';
import { previousRunSource } from './previous-run.ts';
import type { SourceResolvers } from './source-resolver.ts';
import { resolveStaticSource } from './static.ts';

export interface ContextSourceDeps {
  readonly db: Kysely<Database>;
  readonly http: HttpSourceSettings;
  /** Resolvers of `custom` sources, by name. */
  readonly resolvers: ContextResolverRegistry;
}

/** The resolver of every context source kind, keyed by kind, bound to what each one needs. */
export function contextSourceResolvers(deps: ContextSourceDeps): SourceResolvers {
  return {
    static: resolveStaticSource,
    previousRun: previousRunSource(deps.db),
    openTasks: openTasksSource(deps.db),
    http: httpSource(deps.http),
    custom: customSource(deps.resolvers),
  };
}
