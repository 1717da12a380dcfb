import { ActivityDefinitionSpec, runWorkflowIdForEvent } from '@activity-core/core';
import {
  createDb,
  createDefinition,
  type Db,
  type DefinitionRecord,
  insertRunOrGet,
  migrateToLatest,
  type RunRecord,
} from '@activity-core/db';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { createTestDatabase, type TestDatabase, uniqueId } from '../support/stack.ts';

export interface MigratedDb {
  readonly db: Db;
  readonly url: string;
}

/**
 * A fresh database for this test file, migrated to latest, dropped afterwards. Tests in a file
 * share it and keep out of each other's way with unique keys.
 */
export function useMigratedDb(poolMax = 10): () => MigratedDb {
  let tdb: TestDatabase | undefined;
  let current: MigratedDb | undefined;
  let closing = false;
  const poolErrors: Error[] = [];
  beforeAll(async () => {
    tdb = await createTestDatabase();
    // pg-pool's end() resolves before its connections have closed, so dropping the database
    // right after can terminate them; only errors before that point mean something.
    const db = createDb({ url: tdb.url, poolMax }, { onPoolError: (e) => closing || poolErrors.push(e) });
    await migrateToLatest(db);
    current = { db, url: tdb.url };
  });
  afterAll(async () => {
    closing = true;
    await current?.db.destroy();
    await tdb?.drop();
    expect(poolErrors).toEqual([]);
  });
  return () => {
    if (!current) throw new Error('database not ready (used outside a test?)');
    return current;
  };
}

/** A valid core ActivityDefinitionSpec with the given key. */
export function specFor(key: string, overrides: Partial<ActivityDefinitionSpec> = {}): ActivityDefinitionSpec {
  return ActivityDefinitionSpec.parse({
    key,
    name: `Definition ${key}`,
    trigger: { kind: 'event', event: { types: ['order.created'] } },
    taskTemplates: [{ key: 'review', title: 'Review {{ event.data.id }}' }],
    ...overrides,
  });
}

export async function someDefinition(db: Db): Promise<DefinitionRecord> {
  return createDefinition(db, { spec: specFor(uniqueId('def-')) });
}

export async function someRun(db: Db, def: DefinitionRecord): Promise<RunRecord> {
  const key = uniqueId('evt-');
  const { run } = await insertRunOrGet(db, {
    definitionId: def.id,
    definitionVersion: def.version,
    triggerKind: 'event',
    triggerKey: key,
    workflowId: runWorkflowIdForEvent(def.id, key),
  });
  return run;
}

/** Raw SQL outside the repositories (to corrupt rows on purpose, or inspect constraints). */
export async function rawQuery(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
