import { TRPCClientError } from '@activity-core/client';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createDefinition } from '@activity-core/db';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cronSpec, eventSpec, rawCall, startTestApi, type TestApi } from './support.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
});

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return error as TRPCClientError<import('@activity-core/client').AppRouter>;
}

describe('definitions CRUD over HTTP', () => {
  test('create, get, list, update, versions, setEnabled, archive', async () => {
    const client = api.client();
    const created = await client.definitions.create.mutate({ spec: eventSpec('crud-one') });
    expect(created).toMatchObject({
      key: 'crud-one',
      version: 1,
      enabled: true,
      archived: false,
      versionCreatedBy: 'bootstrap',
    });
    expect(typeof created.createdAt).toBe('string');
    expect(await client.definitions.get.query({ id: created.id })).toEqual(created);

    const updated = await client.definitions.update.mutate({
      id: created.id,
      expectedVersion: 1,
      spec: eventSpec('crud-one', { name: 'Renamed' }),
    });
    expect(updated.version).toBe(2);
    expect(updated.spec.name).toBe('Renamed');

    const versions = await client.definitions.versions.query({ id: created.id });
    expect(versions.map((v) => [v.version, v.spec.name])).toEqual([
      [1, 'Definition crud-one'],
      [2, 'Renamed'],
    ]);

    const disabled = await client.definitions.setEnabled.mutate({ id: created.id, enabled: false });
    expect(disabled.enabled).toBe(false);
    const archived = await client.definitions.archive.mutate({ id: created.id });
    expect(archived.archived).toBe(true);
    expect(api.changes.filter((c) => c.definitionId === created.id).map((c) => c.change)).toEqual([
      'created',
      'updated',
      'disabled',
      'archived',
    ]);

    // Archived ones leave the default list, and cannot be enabled again.
    const live = await client.definitions.list.query({});
    expect(live.items.map((d) => d.id)).not.toContain(created.id);
    const all = await client.definitions.list.query({ archived: 'any' });
    expect(all.items.map((d) => d.id)).toContain(created.id);
    const error = await rejection(client.definitions.setEnabled.mutate({ id: created.id, enabled: true }));
    expect(error.data?.code).toBe('CONFLICT');
  });

  // Keys are never reused: a key is in the definition's task event subjects, its tasks and
  // whatever is keyed on it downstream, so it keeps naming the one definition, archived or not.
  test('an archived definition keeps its key: creating another with it is a CONFLICT that says why', async () => {
    const client = api.client();
    const first = await client.definitions.create.mutate({ spec: eventSpec('crud-reuse') });
    await client.definitions.archive.mutate({ id: first.id });
    const error = await rejection(client.definitions.create.mutate({ spec: eventSpec('crud-reuse') }));
    expect(error.data?.code).toBe('CONFLICT');
    expect(error.data?.httpStatus).toBe(409);
    expect(error.message).toBe(
      'definition crud-reuse: key is already taken by an archived definition (keys are never reused)',
    );
    const all = await client.definitions.list.query({ archived: 'any', keyPrefix: 'crud-reuse' });
    expect(all.items.map((d) => [d.id, d.archived])).toEqual([[first.id, true]]);
  });

  test('a stale expected version is a CONFLICT and writes nothing', async () => {
    const client = api.client();
    const created = await client.definitions.create.mutate({ spec: eventSpec('crud-stale') });
    await client.definitions.update.mutate({
      id: created.id,
      expectedVersion: 1,
      spec: eventSpec('crud-stale', { name: 'A' }),
    });
    const error = await rejection(
      client.definitions.update.mutate({
        id: created.id,
        expectedVersion: 1,
        spec: eventSpec('crud-stale', { name: 'B' }),
      }),
    );
    expect(error.data?.code).toBe('CONFLICT');
    expect(error.data?.httpStatus).toBe(409);
    expect(error.message).toMatch(/expected version 1, current is 2/);
    const current = await client.definitions.get.query({ id: created.id });
    expect(current).toMatchObject({ version: 2, spec: { name: 'A' } });
  });

  test('a taken key is a CONFLICT; an unknown id is NOT_FOUND', async () => {
    const client = api.client();
    await client.definitions.create.mutate({ spec: cronSpec('crud-dup') });
    const taken = await rejection(client.definitions.create.mutate({ spec: cronSpec('crud-dup') }));
    expect(taken.data?.code).toBe('CONFLICT');
    expect(taken.message).toBe('definition crud-dup: key is already taken');
    const missing = await rejection(client.definitions.get.query({ id: '0190f5f4-0000-7000-8000-000000000000' }));
    expect(missing.data?.code).toBe('NOT_FOUND');
    expect(missing.data?.httpStatus).toBe(404);
  });

  test('keyset pagination walks every definition once', async () => {
    const client = api.client();
    for (let i = 0; i < 5; i++) await client.definitions.create.mutate({ spec: cronSpec(`page-${i}`) });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof client.definitions.list.query>> = await client.definitions.list.query({
        keyPrefix: 'page-',
        limit: 2,
        cursor,
      });
      seen.push(...page.items.map((d) => d.key));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    const bad = await rejection(client.definitions.list.query({ cursor: 'bm9wZQ' }));
    expect(bad.data?.fieldErrors).toEqual([{ path: 'cursor', message: expect.any(String) }]);
  });

  test('previewSchedule gives the next fire times of a cron config or a saved definition', async () => {
    const client = api.client();
    const preview = await client.definitions.previewSchedule.query({
      cron: { expression: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
      from: '2026-03-27T12:00:00Z',
      count: 3,
    });
    // Friday 27 March 2026, then Monday 30 March (after the switch to CEST) and Tuesday.
    expect(preview).toEqual({
      timezone: 'Europe/Berlin',
      dst: { gap: 'shift', fold: 'first' },
      tzdata: process.versions.tz,
      times: ['2026-03-30T07:00:00.000Z', '2026-03-31T07:00:00.000Z', '2026-04-01T07:00:00.000Z'],
      occurrences: [
        { at: '2026-03-30T07:00:00.000Z', local: '2026-03-30T09:00:00+02:00' },
        { at: '2026-03-31T07:00:00.000Z', local: '2026-03-31T09:00:00+02:00' },
        { at: '2026-04-01T07:00:00.000Z', local: '2026-04-01T09:00:00+02:00' },
      ],
    });
    const saved = await client.definitions.create.mutate({ spec: cronSpec('preview-cron') });
    const fromSaved = await client.definitions.previewSchedule.query({
      definitionId: saved.id,
      from: '2026-03-27T12:00:00Z',
      count: 3,
    });
    expect(fromSaved).toEqual(preview);
  });
});

describe('validation errors name the field', () => {
  const cases: Array<[string, (spec: Record<string, unknown>) => unknown, string, RegExp]> = [
    [
      'bad cron',
      () => ({ ...cronSpec('v-cron'), trigger: { kind: 'cron', cron: { expression: '61 * * * *' } } }),
      'spec.trigger.cron.expression',
      /minute/i,
    ],
    [
      'bad timezone',
      () => ({
        ...cronSpec('v-tz'),
        trigger: { kind: 'cron', cron: { expression: '0 9 * * *', timezone: 'Mars/Base' } },
      }),
      'spec.trigger.cron.timezone',
      /Mars\/Base/,
    ],
    [
      'bad CEL with position',
      () => eventSpec('v-cel', { rules: [{ name: 'r', when: 'event.data.total >' }] }),
      'spec.rules[0].when',
      /line 1, column \d+/,
    ],
    [
      'unknown template variable',
      () =>
        eventSpec('v-tmpl', {
          taskTemplates: [{ key: 'x', title: 'Hello {{ nobody.name }}' }],
        }),
      'spec.taskTemplates[0].title',
      /nobody/,
    ],
    ['missing name', (s) => ({ ...s, name: undefined }), 'spec.name', /.+/],
    ['bad key', (s) => ({ ...s, key: 'Not A Slug' }), 'spec.key', /slug/],
    ['no task templates', (s) => ({ ...s, taskTemplates: [] }), 'spec.taskTemplates', /at least one/],
  ];
  test.each(cases)('%s', async (_name, make, path, message) => {
    const spec = make(eventSpec('v-base'));
    const { status, body } = await rawCall(
      api.trpcUrl,
      'definitions.create',
      'mutation',
      { spec },
      'test-bootstrap-token-0123456789',
    );
    expect(status).toBe(400);
    const fieldErrors = body.error?.data.fieldErrors ?? [];
    const hit = fieldErrors.find((e) => e.path === path);
    expect(hit, JSON.stringify(fieldErrors)).toBeDefined();
    expect(hit?.message).toMatch(message);
    expect(body.error?.message).toContain(path);
  });

  test('changing the key on update names spec.key', async () => {
    const client = api.client();
    const created = await client.definitions.create.mutate({ spec: cronSpec('v-keep') });
    const error = await rejection(
      client.definitions.update.mutate({ id: created.id, expectedVersion: 1, spec: cronSpec('v-other') }),
    );
    expect(error.data?.fieldErrors).toEqual([{ path: 'spec.key', message: expect.stringMatching(/cannot change/) }]);
  });
});

describe("definitions saved before today's save-time checks", () => {
  test('still load and say which checks they no longer pass; an update that fixes them clears the warnings', async () => {
    // Saved the way an older release could: a filter of type string (issue 13), written past the API.
    const old = eventSpec('old-filter', { trigger: { kind: 'event', event: { types: ['a'], filter: 'event.id' } } });
    const record = await createDefinition(api.db, { spec: ActivityDefinitionSpec.parse(old) });
    const client = api.client();
    const loaded = await client.definitions.get.query({ id: record.id });
    expect(loaded.warnings).toEqual([
      { path: 'spec.trigger.event.filter', message: 'expression "event.id" has type string, expected bool' },
    ]);
    const listed = await client.definitions.list.query({ keyPrefix: 'old-filter' });
    expect(listed.items.map((d) => d.warnings.length)).toEqual([1]);
    const fixed = await client.definitions.update.mutate({
      id: record.id,
      expectedVersion: 1,
      spec: { ...old, trigger: { kind: 'event', event: { types: ['a'], filter: "event.id != ''" } } },
    });
    expect(fixed.warnings).toEqual([]);
    const fresh = await client.definitions.create.mutate({ spec: eventSpec('new-filter') });
    expect(fresh.warnings).toEqual([]);
  });
});
