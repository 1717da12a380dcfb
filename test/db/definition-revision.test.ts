import {
  archiveDefinition,
  createDefinition,
  readActiveEventDefinitions,
  readDefinitionChanges,
  setDefinitionEnabled,
  updateDefinition,
} from '@activity-core/db';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { rawQuery, specFor, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(8);

const head = async () => (await readDefinitionChanges(ctx().db, Number.MAX_SAFE_INTEGER)).revision;

describe('the definitions revision', () => {
  it('moves with every write, and the changes since a revision are exactly what was written', async () => {
    const { db } = ctx();
    const start = await head();
    const a = await createDefinition(db, { spec: specFor(uniqueId('rev-')) });
    const b = await createDefinition(db, { spec: specFor(uniqueId('rev-')) });
    expect(await head()).toBe(start + 2);
    const afterCreates = await head();
    await updateDefinition(db, { id: a.id, expectedVersion: 1, spec: { ...a.spec, name: 'A2' } });
    await setDefinitionEnabled(db, b.id, false);
    const changes = await readDefinitionChanges(db, afterCreates);
    expect(changes.revision).toBe(afterCreates + 2);
    expect(changes.definitions.map(({ id, version, active }) => ({ id, version, active }))).toEqual([
      { id: a.id, version: 2, active: true },
      { id: b.id, version: 1, active: false },
    ]);
    expect(changes.definitions[0]?.trigger).toEqual(a.spec.trigger);
    await archiveDefinition(db, a.id);
    const archived = await readDefinitionChanges(db, changes.revision);
    expect(archived.definitions.map(({ id, active }) => ({ id, active }))).toEqual([{ id: a.id, active: false }]);
    // Nothing new: the same revision and no rows.
    expect(await readDefinitionChanges(db, archived.revision)).toEqual({
      revision: archived.revision,
      resetRevision: archived.resetRevision,
      definitions: [],
    });
  });

  it('a deletion leaves no row, so it moves the reset revision', async () => {
    const { db, url } = ctx();
    const def = await createDefinition(db, { spec: specFor(uniqueId('rev-')) });
    const before = await readDefinitionChanges(db, 0);
    await rawQuery(url, 'delete from definitions where id = $1', [def.id]);
    const after = await readDefinitionChanges(db, before.revision);
    expect(after.revision).toBe(before.revision + 1);
    expect(after.resetRevision).toBe(after.revision);
    expect(after.definitions).toEqual([]);
  });

  it('the full read holds only active event definitions, with the revision it reflects', async () => {
    const { db } = ctx();
    const live = await createDefinition(db, { spec: specFor(uniqueId('rev-')) });
    const off = await createDefinition(db, { spec: specFor(uniqueId('rev-')), enabled: false });
    const cron = await createDefinition(db, {
      spec: specFor(uniqueId('rev-'), {
        trigger: {
          kind: 'cron',
          cron: {
            expression: '0 9 * * *',
            timezone: 'UTC',
            dst: { gap: 'auto', fold: 'auto' },
            jitterSeconds: 0,
            misfire: { policy: 'skip', graceSeconds: 60, maxCatchUp: 1 },
          },
        },
      }),
    });
    const feed = await readActiveEventDefinitions(db);
    const ids = feed.definitions.map((d) => d.id);
    expect(ids).toContain(live.id);
    expect(ids).not.toContain(off.id);
    expect(ids).not.toContain(cron.id);
    expect(feed.revision).toBe(await head());
  });

  // The hazard the single locked row exists for: with a sequence, a writer that took a lower
  // number could commit after one with a higher number, and a reader that saw the higher one
  // would skip the lower for good. Here the second writer waits until the first has committed.
  it('is taken in commit order: a concurrent writer waits for the first to commit, so no reader sees the later write alone', async () => {
    const { db, url } = ctx();
    const a = await createDefinition(db, { spec: specFor(uniqueId('rev-')) });
    const b = await createDefinition(db, { spec: specFor(uniqueId('rev-')) });
    const start = await head();
    const t1 = new pg.Client({ connectionString: url });
    const t2 = new pg.Client({ connectionString: url });
    await t1.connect();
    await t2.connect();
    try {
      await t1.query('begin');
      await t1.query('update definitions set updated_at = now() where id = $1', [a.id]);
      // Another definition, so the only lock the two writers share is the revision row's.
      await t2.query('begin');
      await t2.query(`set local lock_timeout = '200ms'`);
      const blocked = await t2
        .query('update definitions set updated_at = now() where id = $1', [b.id])
        .catch((e: { code?: string }) => e);
      expect(blocked).toMatchObject({ code: '55P03' }); // lock_not_available: it had to wait for t1
      await t2.query('rollback');
      expect((await readDefinitionChanges(db, start)).definitions).toEqual([]);
      await t2.query('begin');
      const t2write = t2.query('update definitions set updated_at = now() where id = $1', [b.id]);
      await t1.query('commit');
      await t2write;
      const between = await readDefinitionChanges(db, start);
      expect(between.revision).toBe(start + 1);
      expect(between.definitions.map((d) => d.id)).toEqual([a.id]);
      await t2.query('commit');
      const after = await readDefinitionChanges(db, start);
      expect(after.definitions.map((d) => ({ id: d.id, revision: d.revision }))).toEqual([
        { id: a.id, revision: start + 1 },
        { id: b.id, revision: start + 2 },
      ]);
    } finally {
      await t1.end();
      await t2.end();
    }
    // The column is the trigger's to set: a write cannot pick its own revision.
    await expect(
      sql`update definitions set revision = 1 where id = ${a.id}`
        .execute(db)
        .then(async () => (await readDefinitionChanges(db, start + 2)).definitions.map((d) => d.revision)),
    ).resolves.toEqual([start + 3]);
  });
});
