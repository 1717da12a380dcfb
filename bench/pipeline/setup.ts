// What bench/pipeline.ts and bench/pipeline-latency.ts set up alike on the bench's stack: both
// workflow bundles built once, as a deployment would build them; the migrated database with the
// one-task-per-event definition; the environment of every service process, with the worker tuning
// of this shell given to the product's and the baselines' workers alike.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDb, createDefinition, type Db, migrateToLatest } from '@activity-core/db';
import { silentTemporalLogger } from '@activity-core/runtime';
import type { StackInfo } from '@activity-core/stack';
import { bundleWorkflows } from '@activity-core/workflows/worker';
import { bundleWorkflowCode } from '@temporalio/worker';

export interface PreparedPipeline {
  /** Files of the product's and the baselines' workflow bundles (AC_WORKFLOW_BUNDLE). */
  readonly productBundle: string;
  readonly baselineBundle: string;
  /** The bench's database, migrated, with `bench-pipeline` (one task per `bench.pipeline` event). */
  readonly db: Db;
  /** The environment every service process gets (stack addresses, LOG_LEVEL, worker tuning). */
  readonly env: Record<string, string>;
  /** The worker tuning of this shell (AC_WORKER_*, MALLOC_ARENA_MAX) that `env` carries. */
  readonly tuning: Record<string, string>;
}

export async function preparePipeline(stack: StackInfo, work: string): Promise<PreparedPipeline> {
  const productBundle = join(work, 'product-workflows.js');
  const baselineBundle = join(work, 'baseline-workflows.js');
  writeFileSync(productBundle, (await bundleWorkflows()).code);
  writeFileSync(
    baselineBundle,
    (
      await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./baseline.workflows.ts', import.meta.url)),
        logger: silentTemporalLogger,
      })
    ).code,
  );
  const db = createDb({ url: stack.databaseUrl, poolMax: 4 });
  await migrateToLatest(db);
  await createDefinition(db, {
    spec: ActivityDefinitionSpec.parse({
      key: 'bench-pipeline',
      name: 'Bench pipeline: one task per event',
      trigger: { kind: 'event', event: { types: ['bench.pipeline'] } },
      taskTemplates: [{ key: 'task', title: 'Task {{ event.data.n }}' }],
    }),
  });
  const tuning = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => (e[0].startsWith('AC_WORKER_') || e[0] === 'MALLOC_ARENA_MAX') && !!e[1],
    ),
  );
  const env = {
    DATABASE_URL: stack.databaseUrl,
    NATS_URL: stack.natsUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.temporalNamespace,
    LOG_LEVEL: 'warn',
    ...tuning,
  };
  return { productBundle, baselineBundle, db, env, tuning };
}
