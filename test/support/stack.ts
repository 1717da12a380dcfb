import { randomBytes } from 'node:crypto';
import type { StackInfo } from '@activity-core/stack';
import pg from 'pg';
import { inject } from 'vitest';

/** Where the shared test stack listens (started once by test/global-setup.ts). */
export function stackInfo(): StackInfo {
  return inject('stack');
}

/** A short random identifier for names that must not collide between test files or tests. */
export function uniqueId(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export interface TestDatabase extends AsyncDisposable {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty PostgreSQL database on the shared server, dropped on dispose
 * (`await using db = await createTestDatabase()`), so test files can run in parallel.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const info = stackInfo();
  if (!info.adminDatabaseUrl) throw new Error('the test stack uses an external database; cannot create test databases');
  const adminUrl = info.adminDatabaseUrl;
  const name = uniqueId('ac_test_');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    } finally {
      await client.end();
    }
  };
  return { name, url: url.toString(), drop, [Symbol.asyncDispose]: drop };
}
