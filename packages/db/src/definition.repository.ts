import { ActivityDefinitionSpec } from '@activity-core/core';
import { type Selectable, sql } from 'kysely';
import {
  ConflictError,
  InvalidCursorError,
  InvalidTransitionError,
  NotFoundError,
  PG_UNIQUE_VIOLATION,
  pgErrorCode,
} from './errors.ts';
import { parseColumn, toJson } from './json.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest, pageSize, toPage } from './pagination.ts';
import type { DefinitionsTable, DefinitionVersionsTable } from './schema.ts';
import { type Executor, inTransaction } from './transaction.ts';
import { isUuid, newId } from './uuid.ts';

/** A definition with the spec of its current version. */
export interface DefinitionRecord {
  readonly id: string;
  readonly key: string;
  readonly version: number;
  readonly enabled: boolean;
  readonly archivedAt: Date | null;
  readonly spec: ActivityDefinitionSpec;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the current version was written. */
  readonly versionCreatedAt: Date;
  readonly versionCreatedBy: string | null;
}

export interface DefinitionVersionRecord {
  readonly definitionId: string;
  readonly version: number;
  readonly spec: ActivityDefinitionSpec;
  readonly createdBy: string | null;
  readonly createdAt: Date;
}

type DefinitionRow = Selectable<DefinitionsTable> & {
  spec: unknown;
  version_created_at: Date;
  version_created_by: string | null;
};

function toDefinition(row: DefinitionRow): DefinitionRecord {
  return {
    id: row.id,
    key: row.key,
    version: row.current_version,
    enabled: row.enabled,
    archivedAt: row.archived_at,
    spec: parseColumn(ActivityDefinitionSpec, row.spec, {
      table: 'definition_versions',
      rowId: `${row.id}@${row.current_version}`,
      field: 'spec',
    }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    versionCreatedAt: row.version_created_at,
    versionCreatedBy: row.version_created_by,
  };
}

function toVersion(row: Selectable<DefinitionVersionsTable>): DefinitionVersionRecord {
  return {
    definitionId: row.definition_id,
    version: row.version,
    spec: parseColumn(ActivityDefinitionSpec, row.spec, {
      table: 'definition_versions',
      rowId: `${row.definition_id}@${row.version}`,
      field: 'spec',
    }),
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function selectDefinitions(db: Executor) {
  return db
    .selectFrom('definitions as d')
    .innerJoin('definition_versions as v', (j) =>
      j.onRef('v.definition_id', '=', 'd.id').onRef('v.version', '=', 'd.current_version'),
    )
    .selectAll('d')
    .select(['v.spec', 'v.created_at as version_created_at', 'v.created_by as version_created_by']);
}

export interface CreateDefinitionInput {
  /** A validated spec (`validateDefinitionSpec`); its `key` becomes the definition's key. */
  readonly spec: ActivityDefinitionSpec;
  readonly enabled?: boolean;
  readonly createdBy?: string | null;
  /** Defaults to a new UUIDv7. */
  readonly id?: string;
}

/**
 * Create a definition at version 1. A taken key gives `ConflictError` (reason `duplicate`, field
 * `key`), also when the definition holding it is archived (`heldByArchived`): a key names one
 * definition for good, because it is in its task events' subjects (`tasks.created.{key}`), in
 * its tasks, and in whatever downstream consumers and `apply -f` files keyed on it.
 */
export async function createDefinition(db: Executor, input: CreateDefinitionInput): Promise<DefinitionRecord> {
  const id = input.id ?? newId();
  try {
    await inTransaction(db, async (trx) => {
      await trx
        .insertInto('definitions')
        .values({ id, key: input.spec.key, current_version: 1, enabled: input.enabled ?? true })
        .execute();
      await trx
        .insertInto('definition_versions')
        .values({ definition_id: id, version: 1, spec: toJson(input.spec), created_by: input.createdBy ?? null })
        .execute();
    });
  } catch (error) {
    if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) {
      const holder = await db
        .selectFrom('definitions')
        .select('archived_at')
        .where('key', '=', input.spec.key)
        .executeTakeFirst();
      throw new ConflictError(
        {
          entity: 'definition',
          id: input.spec.key,
          reason: 'duplicate',
          field: 'key',
          ...(holder?.archived_at ? { heldByArchived: true } : {}),
        },
        { cause: error },
      );
    }
    throw error;
  }
  return getDefinition(db, id);
}

export interface UpdateDefinitionInput {
  readonly id: string;
  /** The version the caller read; a newer current version means someone else wrote first. */
  readonly expectedVersion: number;
  /** A validated spec; its `key` must be the definition's key (keys never change). */
  readonly spec: ActivityDefinitionSpec;
  readonly updatedBy?: string | null;
}

/**
 * Write a new version atomically. Exactly one of several writers holding the same
 * `expectedVersion` wins; the others get `ConflictError` (reason `stale_version`). A spec with
 * another key gives `ConflictError` (reason `key_changed`), an archived definition `archived`.
 */
export async function updateDefinition(db: Executor, input: UpdateDefinitionInput): Promise<DefinitionRecord> {
  if (!isUuid(input.id)) throw new NotFoundError({ entity: 'definition', id: input.id });
  return inTransaction(db, async (trx) => {
    // The row lock taken by this update makes a concurrent writer wait, then re-check the
    // version and find it moved.
    const bumped = await trx
      .updateTable('definitions')
      .set((eb) => ({ current_version: eb('current_version', '+', 1), updated_at: new Date() }))
      .where('id', '=', input.id)
      .where('current_version', '=', input.expectedVersion)
      .where('archived_at', 'is', null)
      .where('key', '=', input.spec.key)
      .returning('current_version')
      .executeTakeFirst();
    if (!bumped) {
      const current = await findDefinitionRow(trx, input.id);
      if (!current) throw new NotFoundError({ entity: 'definition', id: input.id });
      if (current.archived_at !== null)
        throw new ConflictError({ entity: 'definition', id: input.id, reason: 'archived' });
      if (current.key !== input.spec.key) {
        throw new ConflictError({ entity: 'definition', id: input.id, reason: 'key_changed', field: 'key' });
      }
      throw new ConflictError({
        entity: 'definition',
        id: input.id,
        reason: 'stale_version',
        expectedVersion: input.expectedVersion,
        currentVersion: current.current_version,
      });
    }
    await trx
      .insertInto('definition_versions')
      .values({
        definition_id: input.id,
        version: bumped.current_version,
        spec: toJson(input.spec),
        created_by: input.updatedBy ?? null,
      })
      .execute();
    return getDefinition(trx, input.id);
  });
}

async function findDefinitionRow(db: Executor, id: string) {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('definitions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The definition with its current spec, or `NotFoundError`. */
export async function getDefinition(db: Executor, id: string): Promise<DefinitionRecord> {
  const row = isUuid(id) ? await selectDefinitions(db).where('d.id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw new NotFoundError({ entity: 'definition', id });
  return toDefinition(row);
}

/** A definition's id, key and current version, without its spec: what a run records before it loads its pinned version. */
export interface DefinitionHead {
  readonly id: string;
  readonly key: string;
  readonly version: number;
}

/** Like {@link getDefinition} without reading (and parsing) the current version's spec. */
export async function getDefinitionHead(db: Executor, id: string): Promise<DefinitionHead> {
  const row = isUuid(id)
    ? await db
        .selectFrom('definitions')
        .select(['id', 'key', 'current_version'])
        .where('id', '=', id)
        .executeTakeFirst()
    : undefined;
  if (!row) throw new NotFoundError({ entity: 'definition', id });
  return { id: row.id, key: row.key, version: row.current_version };
}

export async function getDefinitionByKey(db: Executor, key: string): Promise<DefinitionRecord> {
  const row = await selectDefinitions(db).where('d.key', '=', key).executeTakeFirst();
  if (!row) throw new NotFoundError({ entity: 'definition', id: key });
  return toDefinition(row);
}

export interface ListDefinitionsFilter extends PageRequest {
  readonly enabled?: boolean;
  /** false (default): only live definitions; true: only archived; 'any': both. */
  readonly archived?: boolean | 'any';
  readonly keyPrefix?: string;
}

const DEFINITIONS_LIST = 'definitions';

/** Definitions ordered by key, keyset-paginated. */
export async function listDefinitions(
  db: Executor,
  filter: ListDefinitionsFilter = {},
): Promise<Page<DefinitionRecord>> {
  const limit = pageSize(filter.limit);
  let q = selectDefinitions(db);
  if (filter.enabled !== undefined) q = q.where('d.enabled', '=', filter.enabled);
  const archived = filter.archived ?? false;
  if (archived === true) q = q.where('d.archived_at', 'is not', null);
  if (archived === false) q = q.where('d.archived_at', 'is', null);
  if (filter.keyPrefix) {
    const escaped = filter.keyPrefix.replace(/[\\%_]/g, (c) => `\\${c}`);
    q = q.where('d.key', 'like', `${escaped}%`);
  }
  if (filter.cursor) {
    const [after] = decodeCursor(DEFINITIONS_LIST, filter.cursor);
    if (typeof after !== 'string') throw new InvalidCursorError({ cursor: filter.cursor });
    q = q.where('d.key', '>', after);
  }
  const rows = await q
    .orderBy('d.key', 'asc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, toDefinition, (r) => encodeCursor(DEFINITIONS_LIST, [r.key]));
}

/** Every enabled, not archived definition (what ingest matches events against). */
export async function listActiveDefinitions(db: Executor): Promise<DefinitionRecord[]> {
  const rows = await selectDefinitions(db)
    .where('d.enabled', '=', true)
    .where('d.archived_at', 'is', null)
    .orderBy('d.key')
    .execute();
  return rows.map(toDefinition);
}

/** A definition's trigger as the ingest index needs it. */
export interface DefinitionTriggerRow {
  readonly id: string;
  readonly key: string;
  readonly version: number;
  /** The revision of the definition's latest write. */
  readonly revision: number;
  /** Enabled and not archived. */
  readonly active: boolean;
  /**
   * `spec.trigger` of the current version, not parsed here: the caller parses it, so one
   * unreadable row cannot stop the others from being read.
   */
  readonly trigger: unknown;
  /** `spec.limits.maxExpressionCost` of the current version, when it sets one: its filter's budget. */
  readonly maxExpressionCost?: number;
}

/** Definitions read together with the revision they reflect, in one snapshot. */
export interface DefinitionFeed {
  /** Every definition write up to this revision is reflected, none after it. */
  readonly revision: number;
  /** The latest revision that deleted a definition (a deletion leaves no row to read). */
  readonly resetRevision: number;
  readonly definitions: DefinitionTriggerRow[];
}

/**
 * Definitions written after `sinceRevision`, in their current state (one row per definition
 * however often it changed), with the revision this read reflects. One statement, so one
 * snapshot: revisions are taken in commit order (see the `definition-revision` migration), so
 * a reader that sees revision R sees every write up to R. Cheap when nothing changed: an index
 * range scan that finds no row.
 */
export async function readDefinitionChanges(db: Executor, sinceRevision: number): Promise<DefinitionFeed> {
  return readFeed(db, (d) => d.where('d.revision', '>', sinceRevision));
}

/** Every enabled, not archived, event-triggered definition, with the revision this read reflects. */
export async function readActiveEventDefinitions(db: Executor): Promise<DefinitionFeed> {
  return readFeed(db, (d) =>
    d
      .where('d.enabled', '=', true)
      .where('d.archived_at', 'is', null)
      .where(sql<string>`v.spec->'trigger'->>'kind'`, '=', 'event'),
  );
}

function feedSource(db: Executor) {
  return db
    .selectFrom('definitions as d')
    .innerJoin('definition_versions as v', (j) =>
      j.onRef('v.definition_id', '=', 'd.id').onRef('v.version', '=', 'd.current_version'),
    )
    .select([
      'd.id',
      'd.key',
      'd.current_version as version',
      'd.revision',
      sql<boolean>`d.enabled and d.archived_at is null`.as('active'),
      sql<unknown>`v.spec->'trigger'`.as('trigger'),
      sql<unknown>`v.spec->'limits'->'maxExpressionCost'`.as('max_expression_cost'),
    ]);
}

async function readFeed(
  db: Executor,
  narrow: (source: ReturnType<typeof feedSource>) => ReturnType<typeof feedSource>,
): Promise<DefinitionFeed> {
  const rows = await db
    .selectFrom('definition_revision as r')
    .leftJoin(narrow(feedSource(db)).as('c'), (j) => j.onTrue())
    .select([
      'r.revision as head',
      'r.reset_revision',
      'c.id',
      'c.key',
      'c.version',
      'c.revision',
      'c.active',
      'c.trigger',
      'c.max_expression_cost',
    ])
    .orderBy('c.revision')
    .execute();
  const first = rows[0];
  if (!first) throw new Error('definition_revision has no row: the migrations did not run');
  const definitions: DefinitionTriggerRow[] = [];
  for (const row of rows) {
    if (row.id === null) continue;
    definitions.push({
      id: row.id,
      key: row.key as string,
      version: row.version as number,
      revision: row.revision as number,
      active: row.active === true,
      trigger: row.trigger,
      ...(typeof row.max_expression_cost === 'number' ? { maxExpressionCost: row.max_expression_cost } : {}),
    });
  }
  return { revision: first.head, resetRevision: first.reset_revision, definitions };
}

/** Enable or disable. An archived definition cannot be enabled again (`InvalidTransitionError`). */
export async function setDefinitionEnabled(db: Executor, id: string, enabled: boolean): Promise<DefinitionRecord> {
  return inTransaction(db, async (trx) => {
    const current = await findDefinitionRow(trx, id);
    if (!current) throw new NotFoundError({ entity: 'definition', id });
    if (current.archived_at !== null && enabled) {
      throw new InvalidTransitionError({ entity: 'definition', id, from: 'archived', to: 'enabled' });
    }
    if (current.enabled !== enabled) {
      await trx.updateTable('definitions').set({ enabled, updated_at: new Date() }).where('id', '=', id).execute();
    }
    return getDefinition(trx, id);
  });
}

/** Archive (and disable). Archiving an archived definition returns it unchanged. */
export async function archiveDefinition(db: Executor, id: string): Promise<DefinitionRecord> {
  const now = new Date();
  if (isUuid(id)) {
    await db
      .updateTable('definitions')
      .set({ archived_at: now, enabled: false, updated_at: now })
      .where('id', '=', id)
      .where('archived_at', 'is', null)
      .execute();
  }
  return getDefinition(db, id);
}

/** All versions of a definition, oldest first. */
export async function listDefinitionVersions(db: Executor, definitionId: string): Promise<DefinitionVersionRecord[]> {
  if (!(await findDefinitionRow(db, definitionId))) throw new NotFoundError({ entity: 'definition', id: definitionId });
  const rows = await db
    .selectFrom('definition_versions')
    .selectAll()
    .where('definition_id', '=', definitionId)
    .orderBy('version', 'asc')
    .execute();
  return rows.map(toVersion);
}

export async function getDefinitionVersion(
  db: Executor,
  definitionId: string,
  version: number,
): Promise<DefinitionVersionRecord> {
  const row = isUuid(definitionId)
    ? await db
        .selectFrom('definition_versions')
        .selectAll()
        .where('definition_id', '=', definitionId)
        .where('version', '=', version)
        .executeTakeFirst()
    : undefined;
  if (!row) throw new NotFoundError({ entity: 'definition version', id: `${definitionId}@${version}` });
  return toVersion(row);
}
