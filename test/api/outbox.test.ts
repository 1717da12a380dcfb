// outbox.list / retry / skip against the real API and PostgreSQL: what an operator sees of the
// task events not published yet, and the two ways out for one that cannot be published.
import { claimOutboxBatch, enqueueOutbox, recordOutboxFailure } from '@activity-core/db';
import { TRPCClientError } from '@trpc/client';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type CliResult, spawnCli } from '../support/cli.ts';
import { BOOTSTRAP_TOKEN, startTestApi, type TestApi } from './support.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
});

const code = (error: unknown) => (error instanceof TRPCClientError ? error.data?.code : undefined);

test('pending rows in write order with what each waits for; retry makes one due; skip releases its task', async () => {
  const client = api.client();
  const [created, completed, other] = (await enqueueOutbox(api.db, [
    { subject: 'tasks.created.a', body: { n: 1 }, orderKey: 'task-1' },
    { subject: 'tasks.completed.a', body: { n: 2 }, orderKey: 'task-1' },
    { subject: 'tasks.created.b', body: { n: 3 }, orderKey: 'task-2' },
  ])) as [string, string, string];
  await recordOutboxFailure(api.db, { id: created, error: 'nats: maximum payload exceeded', retryInMs: 3_600_000 });

  const all = await client.outbox.list.query({});
  expect(all.items.map((r) => [r.id, r.subject, r.waitingFor, r.lastError])).toEqual([
    [created, 'tasks.created.a', null, 'nats: maximum payload exceeded'],
    [completed, 'tasks.completed.a', created, null],
    [other, 'tasks.created.b', null, null],
  ]);
  expect(all.nextSeq).toBeNull();
  expect(all.items[0]).toMatchObject({ orderKey: 'task-1', attempts: 0 });
  expect(Date.parse(all.items[0]?.nextAttemptAt ?? '')).toBeGreaterThan(Date.now() + 3_000_000);
  expect((await client.outbox.list.query({ state: 'failing' })).items.map((r) => r.id)).toEqual([created]);

  // Pages in write order.
  const first = await client.outbox.list.query({ limit: 2 });
  expect(first.items.map((r) => r.id)).toEqual([created, completed]);
  const second = await client.outbox.list.query({ limit: 2, afterSeq: first.nextSeq ?? '' });
  expect(second).toMatchObject({ items: [{ id: other }], nextSeq: null });

  // The next row of a task waits for the one before: retry and skip say so.
  const waiting = await client.outbox.retry.mutate({ id: completed }).catch((e: unknown) => e);
  expect(code(waiting)).toBe('CONFLICT');
  expect((waiting as Error).message).toContain(`waits for ${created}`);

  // Retry: due now instead of in an hour.
  await expect(client.outbox.retry.mutate({ id: created })).resolves.toEqual({ id: created, retried: true });
  const due = await sql<{
    due: boolean;
  }>`select next_attempt_at <= now() as due from outbox where id = ${created}`.execute(api.db);
  expect(due.rows).toEqual([{ due: true }]);

  // Skip: the row counts as published, with who and why, and its task's next row no longer waits.
  await expect(client.outbox.skip.mutate({ id: created, reason: 'payload too large for NATS' })).resolves.toEqual({
    id: created,
    skipped: true,
  });
  const skipped = await sql<{
    published: boolean;
    skipped_by: string;
    skip_reason: string;
  }>`select published_at is not null as published, skipped_by, skip_reason from outbox where id = ${created}`.execute(
    api.db,
  );
  expect(skipped.rows).toEqual([
    { published: true, skipped_by: 'bootstrap', skip_reason: 'payload too large for NATS' },
  ]);
  expect((await client.outbox.list.query({})).items.map((r) => [r.id, r.waitingFor])).toEqual([
    [completed, null],
    [other, null],
  ]);

  expect((await client.outbox.list.query({ state: 'skipped' })).items).toMatchObject([
    { id: created, skipped: { by: 'bootstrap', reason: 'payload too large for NATS' } },
  ]);

  // Published (or skipped) rows are not pending: CONFLICT; unknown ids: NOT_FOUND.
  await expect(client.outbox.retry.mutate({ id: created })).rejects.toSatisfy((e) => code(e) === 'CONFLICT');
  await expect(client.outbox.skip.mutate({ id: created, reason: 'again' })).rejects.toSatisfy(
    (e) => code(e) === 'CONFLICT',
  );
  const unknown = '0190a0a0-0000-7000-8000-000000000000';
  await expect(client.outbox.retry.mutate({ id: unknown })).rejects.toSatisfy((e) => code(e) === 'NOT_FOUND');
  await expect(client.outbox.skip.mutate({ id: unknown, reason: 'x' })).rejects.toSatisfy(
    (e) => code(e) === 'NOT_FOUND',
  );
});

test('a row a relay is publishing right now is neither retried nor skipped until its lease ends', async () => {
  const client = api.client();
  await sql`delete from outbox`.execute(api.db);
  const [id] = (await enqueueOutbox(api.db, [
    { subject: 'tasks.created.lease', body: {}, orderKey: 'task-lease' },
  ])) as [string];
  const [claimed] = await claimOutboxBatch(api.db, { leaseMs: 60_000 });
  expect(claimed?.id).toBe(id);
  expect((await client.outbox.list.query({})).items).toMatchObject([{ id, attempts: 1 }]);
  expect((await client.outbox.list.query({})).items[0]?.leasedUntil).not.toBeNull();
  for (const attempt of [client.outbox.skip.mutate({ id, reason: 'give up' }), client.outbox.retry.mutate({ id })]) {
    const refused = await attempt.catch((e: unknown) => e);
    expect(code(refused)).toBe('CONFLICT');
    expect((refused as Error).message).toContain('being published right now');
  }
  // Its publish failed: the lease is over, and the operator may give it up.
  await recordOutboxFailure(api.db, { id, error: 'nats: timeout', retryInMs: 60_000 });
  expect((await client.outbox.list.query({})).items).toMatchObject([
    { id, leasedUntil: null, lastError: 'nats: timeout' },
  ]);
  await expect(client.outbox.skip.mutate({ id, reason: 'give up' })).resolves.toEqual({ id, skipped: true });
});

test('skip needs a reason, and a seq cursor is a seq: BAD_REQUEST naming the field', async () => {
  const client = api.client();
  const id = '0190a0a0-0000-7000-8000-000000000001';
  const noReason = await client.outbox.skip.mutate({ id, reason: '   ' }).catch((e: unknown) => e);
  expect(code(noReason)).toBe('BAD_REQUEST');
  expect(JSON.stringify((noReason as TRPCClientError<never>).data)).toContain('reason');
  const badSeq = await client.outbox.list.query({ afterSeq: '99999999999999999999' }).catch((e: unknown) => e);
  expect(code(badSeq)).toBe('BAD_REQUEST');
  expect(JSON.stringify((badSeq as TRPCClientError<never>).data)).toContain('afterSeq');
});

/** The real `activity-core` binary against this API; resolves with its exit code and output. */
function cli(...args: string[]): Promise<CliResult> {
  return spawnCli(args, { apiUrl: api.trpcUrl, token: BOOTSTRAP_TOKEN }).finished();
}

test('ac outbox list, skip and retry: the operator CLI over the same procedures', async () => {
  const [stuck] = (await enqueueOutbox(api.db, [{ subject: 'tasks.created.cli', body: {}, orderKey: 'task-cli' }])) as [
    string,
  ];
  await recordOutboxFailure(api.db, { id: stuck, error: 'nats: maximum payload exceeded', retryInMs: 3_600_000 });

  const listed = await cli('outbox', 'list', '--failing', '-o', 'json');
  expect(listed.code).toBe(0);
  expect(
    (JSON.parse(listed.stdout) as Array<{ id: string; lastError: string }>).map((r) => [r.id, r.lastError]),
  ).toEqual([[stuck, 'nats: maximum payload exceeded']]);
  const table = await cli('outbox', 'list', '--failing');
  expect(table.stdout).toContain(`${stuck}`);
  expect(table.stdout).toContain('failing (next ');
  expect(table.stdout).toContain('nats: maximum payload exceeded');

  // skip wants a reason (a usage error, 4); an unknown row is not found (6).
  expect((await cli('outbox', 'skip', stuck)).code).toBe(4);
  expect((await cli('outbox', 'retry', '0190a0a0-0000-7000-8000-0000000000ff')).code).toBe(6);
  expect((await cli('outbox', 'retry', stuck)).code).toBe(0);
  const skipped = await cli('outbox', 'skip', stuck, '--reason', 'payload too large');
  expect(skipped).toMatchObject({ code: 0 });
  expect(skipped.stdout).toContain(`skipped: ${stuck}`);
  expect((await cli('outbox', 'list', '--failing')).stdout).toContain('no failing task events');
});
