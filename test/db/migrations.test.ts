import { join } from 'node:path';
import { createDb, MigrationError, migrateDown, migrateToLatest, migrationStatus } from '@activity-core/db';
import { REPO_ROOT } from '@activity-core/stack';
import { describe, expect, it } from 'vitest';
import { runNode } from '../support/process.ts';
import { createTestDatabase } from '../support/stack.ts';
import { outlasting, WAIT_MS } from '../support/wait.ts';
import { rawQuery } from './fixture.ts';

const TABLES = [
  'api_tokens',
  'definition_revision',
  'definition_versions',
  'definitions',
  'outbox',
  'run_events',
  'run_log_entries',
  'runs',
  'task_instances',
];

async function tables(url: string): Promise<string[]> {
  const r = await rawQuery(
    url,
    `select table_name from information_schema.tables where table_schema = 'public' and table_name not like 'kysely_%' order by 1`,
  );
  return r.rows.map((row: { table_name: string }) => row.table_name);
}

describe('migrations', () => {
  it('go up, down and up again', async () => {
    await using tdb = await createTestDatabase();
    const db = createDb({ url: tdb.url, poolMax: 2 });
    try {
      const known = await migrationStatus(db);
      expect(known.every((m) => m.executedAt === null)).toBe(true);
      const up = await migrateToLatest(db);
      expect(up.map((s) => [s.name, s.direction, s.status])).toEqual(known.map((m) => [m.name, 'Up', 'Success']));
      expect(await tables(tdb.url)).toEqual(TABLES);
      expect(await migrateToLatest(db)).toEqual([]);

      // Down one step at a time, newest first, until nothing is left.
      for (const m of [...known].reverse()) {
        const down = await migrateDown(db);
        expect(down.map((s) => [s.name, s.direction, s.status])).toEqual([[m.name, 'Down', 'Success']]);
      }
      expect(await tables(tdb.url)).toEqual([]);
      const fns = await rawQuery(tdb.url, `select proname from pg_proc where proname like 'ac\\_%'`);
      expect(fns.rowCount).toBe(0);

      await migrateToLatest(db);
      expect(await tables(tdb.url)).toEqual(TABLES);
      expect((await migrationStatus(db)).every((m) => m.executedAt instanceof Date)).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('two migrators at once apply each migration once', async () => {
    await using tdb = await createTestDatabase();
    const a = createDb({ url: tdb.url, poolMax: 2 });
    const b = createDb({ url: tdb.url, poolMax: 2 });
    try {
      const [ra, rb] = await Promise.all([migrateToLatest(a), migrateToLatest(b)]);
      const names = [...ra, ...rb].map((s) => s.name).sort();
      expect(names).toEqual((await migrationStatus(a)).map((m) => m.name).sort());
      expect(await tables(tdb.url)).toEqual(TABLES);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  it('a failing migration surfaces as MigrationError with its name', async () => {
    await using tdb = await createTestDatabase();
    // A table the initial migration wants to create already exists.
    await rawQuery(tdb.url, 'create table runs (x int)');
    const db = createDb({ url: tdb.url, poolMax: 1 });
    try {
      const error = await migrateToLatest(db).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).data).toEqual({ direction: 'up', migration: '2026-11-26T1400_initial' });
      expect((error as MigrationError).message).toMatch(/already exists/);
      // The failed migration's transaction rolled back: no table of it is left behind.
      expect(await tables(tdb.url)).toEqual(['runs']);
    } finally {
      await db.destroy();
    }
  });

  // Four runs of the CLI, each a process of its own.
  it(
    'the migrate command runs up, status and down against DATABASE_URL',
    async () => {
      await using tdb = await createTestDatabase();
      const cli = join(REPO_ROOT, 'packages/db/src/migrate-cli.ts');
      const env = { ...process.env, DATABASE_URL: tdb.url };
      const up = await runNode('migrate-cli up', [cli, 'up'], { env });
      expect(up.stdout).toContain('applied 2026-11-26T1400_initial');
      const status = await runNode('migrate-cli status', [cli, 'status'], { env });
      expect(status.stdout).toMatch(/^\d{4}-\d\d-\d\dT.*2026-11-26T1400_initial$/m);
      const newest = status.stdout.trim().split('\n').at(-1)?.split(/\s+/).at(-1);
      const down = await runNode('migrate-cli down', [cli, 'down'], { env });
      expect(down.stdout).toBe(`reverted ${newest}\n`);
      const bad = await runNode('migrate-cli sideways', [cli, 'sideways'], { env }).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(bad).toMatchObject({ code: 2 });
    },
    outlasting(WAIT_MS, WAIT_MS, WAIT_MS, WAIT_MS),
  );
});
