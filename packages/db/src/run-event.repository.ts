import { EventEnvelope } from '@activity-core/core';
import type { Selectable } from 'kysely';
import { parseColumn, toNullableJson } from './json.ts';
import type { RunEventsTable } from './schema.ts';
import type { Executor } from './transaction.ts';
import { isUuid } from './uuid.ts';

/** One event of a window run: which window it joined, where, and (when kept) the envelope. */
export interface RunEventRecord {
  readonly definitionId: string;
  readonly eventKey: string;
  readonly runId: string;
  readonly position: number;
  readonly joinedAt: Date;
  /** Null when the event was counted but not kept (the window had reached its bounds). */
  readonly envelope: EventEnvelope | null;
}

function toRunEvent(row: Selectable<RunEventsTable>): RunEventRecord {
  return {
    definitionId: row.definition_id,
    eventKey: row.event_key,
    runId: row.run_id,
    position: row.position,
    joinedAt: row.joined_at,
    envelope:
      row.envelope === null
        ? null
        : parseColumn(EventEnvelope, row.envelope, {
            table: 'run_events',
            rowId: `${row.definition_id}#${row.event_key}`,
            field: 'envelope',
          }),
  };
}

/** The window run each of `eventKeys` joined (of this definition), by event key. */
export async function findRunEventOwners(
  db: Executor,
  definitionId: string,
  eventKeys: readonly string[],
): Promise<Map<string, { readonly runId: string; readonly position: number }>> {
  const owners = new Map<string, { runId: string; position: number }>();
  if (eventKeys.length === 0 || !isUuid(definitionId)) return owners;
  const rows = await db
    .selectFrom('run_events')
    .select(['event_key', 'run_id', 'position'])
    .where('definition_id', '=', definitionId)
    .where('event_key', 'in', [...eventKeys])
    .execute();
  for (const row of rows) owners.set(row.event_key, { runId: row.run_id, position: row.position });
  return owners;
}

export interface NewRunEvent {
  readonly eventKey: string;
  readonly position: number;
  readonly joinedAt: Date;
  readonly envelope: EventEnvelope | null;
}

/**
 * Claims events for a window run. Returns the event keys that were already claimed (by any
 * run of the definition, e.g. in a concurrent transaction): those rows are left as they were.
 */
export async function claimRunEvents(
  db: Executor,
  definitionId: string,
  runId: string,
  events: readonly NewRunEvent[],
): Promise<string[]> {
  if (events.length === 0) return [];
  const inserted = await db
    .insertInto('run_events')
    .values(
      events.map((e) => ({
        definition_id: definitionId,
        event_key: e.eventKey,
        run_id: runId,
        position: e.position,
        joined_at: e.joinedAt,
        envelope: toNullableJson(e.envelope),
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .returning('event_key')
    .execute();
  const claimed = new Set(inserted.map((r) => r.event_key));
  return events.filter((e) => !claimed.has(e.eventKey)).map((e) => e.eventKey);
}

/** The events of a window run in join order (kept ones carry their envelope). */
export async function listRunEvents(
  db: Executor,
  runId: string,
  options: { readonly limit?: number; readonly afterPosition?: number } = {},
): Promise<RunEventRecord[]> {
  if (!isUuid(runId)) return [];
  let q = db.selectFrom('run_events').selectAll().where('run_id', '=', runId);
  if (options.afterPosition !== undefined) q = q.where('position', '>', options.afterPosition);
  if (options.limit !== undefined) q = q.limit(options.limit);
  const rows = await q.orderBy('position', 'asc').execute();
  return rows.map(toRunEvent);
}
