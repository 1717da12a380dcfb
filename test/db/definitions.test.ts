import {
  archiveDefinition,
  ConflictError,
  CorruptRowError,
  createDefinition,
  DEFINITIONS_CHANNEL,
  getDefinition,
  getDefinitionByKey,
  getDefinitionVersion,
  InvalidTransitionError,
  listActiveDefinitions,
  listDefinitions,
  listDefinitionVersions,
  listenForDefinitionChanges,
  NotFoundError,
  setDefinitionEnabled,
  updateDefinition,
} from '@activity-core/db';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/stack.ts';
import { rawQuery, specFor, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(12);

describe('definitions', () => {
  it('are created at version 1 and found by id and key', async () => {
    const { db } = ctx();
    const key = uniqueId('def-');
    const spec = specFor(key, { name: 'A' });
    const created = await createDefinition(db, { spec, createdBy: 'alice' });
    expect(created).toMatchObject({ key, version: 1, enabled: true, archivedAt: null, spec });
    expect(created.versionCreatedBy).toBe('alice');
    expect(await getDefinition(db, created.id)).toEqual(created);
    expect(await getDefinitionByKey(db, key)).toEqual(created);
    await expect(getDefinition(db, '00000000-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(getDefinition(db, 'not-a-uuid')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuse a taken key and a key unfit for NATS subjects', async () => {
    const { db } = ctx();
    const key = uniqueId('def-');
    await createDefinition(db, { spec: specFor(key) });
    const dup = await createDefinition(db, { spec: specFor(key) }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ConflictError);
    expect((dup as ConflictError).data).toMatchObject({ reason: 'duplicate', field: 'key' });
    // The table holds core's key rule too (keys end up in NATS subjects), whoever writes.
    for (const bad of ['a.b', 'a*', 'a>', 'a b', '', 'Upper']) {
      const spec = { ...specFor('placeholder'), key: bad };
      await expect(createDefinition(db, { spec })).rejects.toMatchObject({ code: '23514' });
    }
  });

  it('update writes a new immutable version; a stale writer gets a conflict', async () => {
    const { db, url } = ctx();
    const key = uniqueId('def-');
    const v = (name: string) => specFor(key, { name });
    const def = await createDefinition(db, { spec: v('v1') });
    const v2 = await updateDefinition(db, { id: def.id, expectedVersion: 1, spec: v('v2'), updatedBy: 'bob' });
    expect(v2).toMatchObject({ version: 2, spec: v('v2'), versionCreatedBy: 'bob' });
    const stale = await updateDefinition(db, { id: def.id, expectedVersion: 1, spec: v('v3') }).catch(
      (e: unknown) => e,
    );
    expect(stale).toBeInstanceOf(ConflictError);
    expect((stale as ConflictError).data).toMatchObject({
      reason: 'stale_version',
      expectedVersion: 1,
      currentVersion: 2,
    });
    expect((await listDefinitionVersions(db, def.id)).map((x) => [x.version, x.spec.name])).toEqual([
      [1, 'v1'],
      [2, 'v2'],
    ]);
    expect((await getDefinitionVersion(db, def.id, 1)).spec).toEqual(v('v1'));
    const renamed = await updateDefinition(db, {
      id: def.id,
      expectedVersion: 2,
      spec: specFor(uniqueId('def-')),
    }).catch((e: unknown) => e);
    expect((renamed as ConflictError).data).toMatchObject({ reason: 'key_changed' });
    await expect(getDefinitionVersion(db, def.id, 9)).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      rawQuery(url, `update definition_versions set spec = '{"v": 99}' where definition_id = $1`, [def.id]),
    ).rejects.toThrow(/immutable/);
  });

  it('of concurrent updates from one version, exactly one wins', async () => {
    const { db } = ctx();
    const key = uniqueId('def-');
    const def = await createDefinition(db, { spec: specFor(key) });
    const writers = 8;
    const results = await Promise.allSettled(
      Array.from({ length: writers }, (_, i) =>
        updateDefinition(db, { id: def.id, expectedVersion: 1, spec: specFor(key, { name: `writer ${i}` }) }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(writers - 1);
    for (const r of lost) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const after = await getDefinition(db, def.id);
    expect(after.version).toBe(2);
    expect(after.spec).toEqual((won[0] as PromiseFulfilledResult<typeof after>).value.spec);
    expect(await listDefinitionVersions(db, def.id)).toHaveLength(2);
  });

  it('enable, disable and archive; an archived definition stays archived', async () => {
    const { db } = ctx();
    const def = await createDefinition(db, { spec: specFor(uniqueId('def-')) });
    expect((await setDefinitionEnabled(db, def.id, false)).enabled).toBe(false);
    expect((await setDefinitionEnabled(db, def.id, true)).enabled).toBe(true);
    const archived = await archiveDefinition(db, def.id);
    expect(archived.archivedAt).toBeInstanceOf(Date);
    expect(archived.enabled).toBe(false);
    expect((await archiveDefinition(db, def.id)).archivedAt).toEqual(archived.archivedAt);
    await expect(setDefinitionEnabled(db, def.id, true)).rejects.toBeInstanceOf(InvalidTransitionError);
    await expect(
      updateDefinition(db, { id: def.id, expectedVersion: 1, spec: specFor(def.key) }),
    ).rejects.toMatchObject({
      data: { reason: 'archived' },
    });
    expect((await listActiveDefinitions(db)).some((d) => d.id === def.id)).toBe(false);
    await expect(archiveDefinition(db, '00000000-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('list by key with keyset pagination, unaffected by inserts in between', async () => {
    const { db } = ctx();
    const prefix = uniqueId('page');
    const keys = Array.from({ length: 7 }, (_, i) => `${prefix}-${String(i * 2).padStart(2, '0')}`);
    for (const key of keys) await createDefinition(db, { spec: specFor(key) });
    const seen: string[] = [];
    let cursor: string | null = null;
    let inserted = 0;
    do {
      const page = await listDefinitions(db, { keyPrefix: prefix, limit: 3, cursor });
      seen.push(...page.items.map((d) => d.key));
      cursor = page.nextCursor;
      // A key sorting before the cursor never shows up; one after it does, exactly once.
      await createDefinition(db, { spec: specFor(`${prefix}-0${inserted}a`) });
      inserted++;
    } while (cursor);
    const expected = [...keys, ...Array.from({ length: inserted }, (_, i) => `${prefix}-0${i}a`)].sort();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    for (const key of keys) expect(seen).toContain(key);
    expect(seen.every((k) => expected.includes(k))).toBe(true);
    const prefixWithWildcard = await listDefinitions(db, { keyPrefix: `${prefix}_` });
    expect(prefixWithWildcard.items).toEqual([]);
  });

  it('a stored spec that no longer parses gives CorruptRowError naming row and field', async () => {
    const { db, url } = ctx();
    const def = await createDefinition(db, { spec: specFor(uniqueId('def-')) });
    // Versions are immutable to the application; an operator (or a bad migration) can still break one.
    await rawQuery(
      url,
      `alter table definition_versions disable trigger definition_versions_immutable;
       update definition_versions set spec = jsonb_set(spec, '{taskTemplates}', '[]') where definition_id = '${def.id}';
       alter table definition_versions enable trigger definition_versions_immutable;`,
    );
    const error = await getDefinition(db, def.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptRowError);
    expect((error as CorruptRowError).data).toMatchObject({
      table: 'definition_versions',
      rowId: `${def.id}@1`,
      field: 'spec',
    });
    expect((error as CorruptRowError).message).toContain('spec.taskTemplates');
    await expect(listDefinitions(db, { keyPrefix: def.key })).rejects.toBeInstanceOf(CorruptRowError);
  });

  it('notify listeners on change', async () => {
    const { db, url } = ctx();
    const ids: string[] = [];
    await using _listener = await listenForDefinitionChanges({
      url,
      onChange: (id) => ids.push(id),
      onError: (e) => {
        throw e;
      },
    });
    expect(DEFINITIONS_CHANNEL).toBe('ac_definitions');
    const def = await createDefinition(db, { spec: specFor(uniqueId('def-')) });
    await setDefinitionEnabled(db, def.id, false);
    await expect.poll(() => ids.filter((id) => id === def.id).length).toBe(2);
  });
});
