import { migrations } from '@activity-core/migrations';
import type { Kysely } from 'kysely';
import { type MigrationResult, Migrator } from 'kysely/migration';
import { MigrationError } from './errors.ts';

export interface MigrationStep {
  readonly name: string;
  readonly direction: 'Up' | 'Down';
  readonly status: MigrationResult['status'];
}

export interface MigrationState {
  readonly name: string;
  /** null when not applied yet. */
  readonly executedAt: Date | null;
}

// The app's Database type is irrelevant to migrations, so any Kysely instance will do.
// biome-ignore lint/suspicious/noExplicitAny: Migrator takes Kysely<any>; migrations never see app types
type AnyKysely = Kysely<any>;

function migrator(db: AnyKysely): Migrator {
  // Static provider: the migrations are imported, not loaded from disk, so no TypeScript loader
  // is needed at run time. Kysely runs pending migrations in one transaction under an advisory
  // lock, so concurrent migrators (several services starting at once) are safe.
  return new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
}

function steps(results: readonly MigrationResult[] | undefined): MigrationStep[] {
  return (results ?? []).map((r) => ({ name: r.migrationName, direction: r.direction, status: r.status }));
}

function failedName(results: readonly MigrationResult[] | undefined): string | undefined {
  return results?.find((r) => r.status === 'Error')?.migrationName;
}

/** Apply every pending migration. Throws `MigrationError` (kysely itself only returns errors). */
export async function migrateToLatest(db: AnyKysely): Promise<MigrationStep[]> {
  const { error, results } = await migrator(db).migrateToLatest();
  if (error !== undefined) {
    const migration = failedName(results);
    throw new MigrationError({ direction: 'up', ...(migration ? { migration } : {}) }, { cause: error });
  }
  return steps(results);
}

/** Undo the most recent migration. */
export async function migrateDown(db: AnyKysely): Promise<MigrationStep[]> {
  const { error, results } = await migrator(db).migrateDown();
  if (error !== undefined) {
    const migration = failedName(results);
    throw new MigrationError({ direction: 'down', ...(migration ? { migration } : {}) }, { cause: error });
  }
  return steps(results);
}

/** Every known migration with the time it was applied (null: pending). */
export async function migrationStatus(db: AnyKysely): Promise<MigrationState[]> {
  try {
    const infos = await migrator(db).getMigrations();
    return infos.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
  } catch (cause) {
    throw new MigrationError({ direction: 'status' }, { cause });
  }
}
