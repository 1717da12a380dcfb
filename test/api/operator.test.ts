// The procedures behind the operator CLI, against the real stack: definitions.diff, backtest and
// replay over stored events, dead letters listed, shown and redriven by reason and range, and
// runs.follow returning every run-log entry exactly once.

import type { ApiService } from '@activity-core/api-service';
import type { ActivityCoreClient } from '@activity-core/client';
import { publishDeadLetter } from '@activity-core/ingest';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { TRPCClientError } from '@trpc/client';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../support/wait.ts';
import type { Harness } from '../worker/harness.ts';
import { BOOTSTRAP_TOKEN, eventSpec, rawCall, useApiOnHarness } from './support.ts';

let h: Harness;
let api: ApiService;
let client: ActivityCoreClient;
useApiOnHarness((harness, started) => {
  h = harness;
  ({ api, client } = started);
});

const encoder = new TextEncoder();

/** Publishes straight to the events stream (no ingest runs in this file). */
async function store(subject: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const hdrs = natsHeaders();
  for (const [k, v] of Object.entries(headers)) hdrs.set(k, v);
  const data = typeof body === 'string' ? encoder.encode(body) : encoder.encode(JSON.stringify(body));
  const ack = await jetstream(h.nc).publish(`${h.topology.events.subjectPrefix}${subject}`, data, { headers: hdrs });
  return ack.seq;
}

const cloudEvent = (id: string, type: string, data: Record<string, unknown>, source = 'urn:shop') => ({
  specversion: '1.0',
  id,
  source,
  type,
  data,
});

describe('definitions.diff', () => {
  test('create, update with field changes, unchanged, invalid documents and prune', async () => {
    const existing = await client.definitions.create.mutate({ spec: eventSpec('diff-existing') });
    const same = await client.definitions.create.mutate({ spec: eventSpec('diff-same') });
    const orphan = await client.definitions.create.mutate({ spec: eventSpec('diff-orphan') });
    const changed = eventSpec('diff-existing', { name: 'Renamed' });
    const result = await client.definitions.diff.query({
      documents: [
        changed,
        eventSpec('diff-same'),
        eventSpec('diff-new'),
        { ...eventSpec('diff-bad'), trigger: { kind: 'event', event: { types: ['x'], filter: 'event.data.total >' } } },
        eventSpec('diff-same'),
      ],
      prune: true,
      keyPrefix: 'diff-',
    });
    expect(result.items.map((i) => [i.key, i.action])).toEqual([
      ['diff-existing', 'update'],
      ['diff-same', 'unchanged'],
      ['diff-new', 'create'],
      ['diff-bad', 'invalid'],
      ['diff-same', 'invalid'],
    ]);
    expect(result.items[0]).toMatchObject({
      id: existing.id,
      version: 1,
      changes: [{ path: 'name', kind: 'changed', before: 'Definition diff-existing', after: 'Renamed' }],
    });
    expect(result.items[1]?.id).toBe(same.id);
    expect(result.items[3]?.errors).toEqual([
      { path: 'trigger.event.filter', message: expect.stringMatching(/line 1/) },
    ]);
    expect(result.items[4]?.errors).toEqual([{ path: 'key', message: 'the key "diff-same" is also in document 2' }]);
    expect(result.prune).toEqual([{ id: orphan.id, key: 'diff-orphan', version: 1 }]);
    // Nothing was written.
    expect((await client.definitions.get.query({ id: existing.id })).version).toBe(1);
  });
});

describe('backtest and replay', () => {
  test('exact counts over a known mix of stored events; replay twice starts runs once', async () => {
    const spec = eventSpec('bt-orders', {
      trigger: {
        kind: 'event',
        event: { types: ['order.created'], source: 'urn:shop', filter: 'event.data.total > 100' },
      },
      rules: [{ name: 'not_test', when: "event.data.orderId != 'test'" }],
    });
    const from = new Date(Date.now() - 1000).toISOString();
    // 3 spawning, 1 rejected by rule, 2 by filter, 1 by source, 2 by type, 1 invalid JSON,
    // 1 duplicate (the same source + id again), 1 filter error (total is a string).
    let n = 0;
    const ev = (data: Record<string, unknown>, extra: Partial<{ type: string; source: string; id: string }> = {}) =>
      cloudEvent(extra.id ?? `bt-${++n}`, extra.type ?? 'order.created', data, extra.source);
    for (const total of [150, 250, 300]) await store('order.created', ev({ orderId: `A-${total}`, total }));
    await store('order.created', ev({ orderId: 'test', total: 500 }));
    for (const total of [10, 20]) await store('order.created', ev({ orderId: `B-${total}`, total }));
    await store('order.created', ev({ orderId: 'C', total: 999 }, { source: 'urn:other' }));
    await store('order.shipped', ev({ orderId: 'D', total: 999 }, { type: 'order.shipped' }));
    await store('invoice.created', ev({ orderId: 'E', total: 999 }, { type: 'invoice.created' }));
    await store('order.created', '{ not json');
    await store('order.created', ev({ orderId: 'A-150', total: 150 }, { id: 'bt-1' }));
    await store('order.created', ev({ orderId: 'F', total: 'lots' }));

    const result = await client.definitions.backtest.query({ definition: spec, from, sampleSize: 2 });
    expect(result).toMatchObject({
      definition: { id: null, key: 'bt-orders', version: null },
      scanned: 12,
      duplicates: 1,
      invalid: { count: 1, byReason: { invalid_json: 1 } },
      events: 10,
      rejected: { type: 2, source: 1, filter: 2, rule: 1 },
      errors: { filter: 1, plan: 0 },
      matched: 4,
      noTasks: 0,
      spawning: 3,
      tasksPlanned: 3,
      alreadyRun: null,
      truncated: false,
    });
    // The filter error is its own count, with the matcher's code as dryRun reports it.
    expect(result.errors.samples).toEqual([
      {
        seq: expect.any(Number),
        stage: 'filter',
        code: 'evaluation',
        path: 'trigger.event.filter',
        message: expect.any(String),
      },
    ]);
    expect(result.sample.map((s) => s.tasks.map((t) => t.title))).toEqual([
      ['Review order A-150 for ada'],
      ['Review order A-250 for ada'],
    ]);

    // Bounded: a limit truncates and says where to continue; the rest continues from there.
    const first = await client.definitions.backtest.query({ definition: spec, from, limit: 5 });
    expect(first).toMatchObject({ scanned: 5, truncated: true });
    const rest = await client.definitions.backtest.query({ definition: spec, from, afterSeq: first.lastSeq ?? 0 });
    expect(rest.scanned).toBe(7);

    // Replay a saved version: runs for the 4 matched events (rules are the runs' business).
    const saved = await client.definitions.create.mutate({ spec });
    const once = await client.definitions.replay.mutate({ definitionId: saved.id, from });
    expect(once).toMatchObject({ matched: 4, started: 4, alreadyReplayed: 0, skippedLive: 0, failed: [] });
    await waitFor(
      async () => {
        const runs = await client.runs.list.query({ definitionId: saved.id });
        return runs.items.length === 4 && runs.items.every((r) => r.status === 'succeeded');
      },
      { what: '4 replayed runs finished' },
    );
    const twice = await client.definitions.replay.mutate({ definitionId: saved.id, from });
    expect(twice).toMatchObject({ matched: 4, started: 0, alreadyReplayed: 4 });
    const runs = await client.runs.list.query({ definitionId: saved.id });
    expect(runs.items).toHaveLength(4);
    expect(runs.items.every((r) => r.triggerKey.startsWith('replay:default:'))).toBe(true);
    // A run succeeds once its TaskInstance children have started; each child writes its row.
    const titles = await waitFor(
      async () => (await client.tasks.list.query({ definitionId: saved.id })).items.map((t) => t.title).sort(),
      { what: 'the three tasks of the replayed runs', until: (t) => t.length >= 3 },
    );
    expect(titles).toEqual(['Review order A-150 for ada', 'Review order A-250 for ada', 'Review order A-300 for ada']);
    // A backtest of the saved definition now knows none of these ran live.
    expect((await client.definitions.backtest.query({ definitionId: saved.id, from })).alreadyRun).toBe(0);
    // A new replay key replays again, on purpose.
    const again = await client.definitions.replay.mutate({ definitionId: saved.id, from, replayKey: 'fix-1' });
    expect(again.started).toBe(4);
  });

  test('replay needs the admin scope, and an event trigger', async () => {
    const { secret } = await client.tokens.create.mutate({ name: 'writer', scopes: ['write'] });
    const saved = await client.definitions.create.mutate({ spec: eventSpec('bt-scope') });
    const denied = await rawCall(
      `http://127.0.0.1:${api.port}/trpc`,
      'definitions.replay',
      'mutation',
      { definitionId: saved.id, from: new Date().toISOString() },
      secret,
    );
    expect(denied.status).toBe(403);
    const cron = await client.definitions.create.mutate({
      spec: {
        key: 'bt-cron',
        name: 'cron',
        trigger: { kind: 'cron', cron: { expression: '0 9 * * *', timezone: 'UTC' } },
        taskTemplates: [{ key: 'x', title: 'x' }],
      },
    });
    const refused = await rawCall(
      `http://127.0.0.1:${api.port}/trpc`,
      'definitions.replay',
      'mutation',
      { definitionId: cron.id, from: new Date().toISOString() },
      BOOTSTRAP_TOKEN,
    );
    expect(refused.body.error?.data.fieldErrors).toEqual([{ path: 'definitionId', message: expect.any(String) }]);
  });
});

describe('backtest and replay of a windowed definition', () => {
  test('events are judged one by one, an unkeyable one is a window_key error; replay is refused', async () => {
    const spec = eventSpec('bt-basket', {
      trigger: {
        kind: 'event',
        event: {
          types: ['basket.changed'],
          window: { mode: 'debounce', key: 'event.data.basket', quiet: 'PT5M' },
        },
      },
      rules: [],
      taskTemplates: [{ key: 'nudge', title: '{{ window.count }} change(s) to {{ window.key }}' }],
    });
    const from = new Date(Date.now() - 1000).toISOString();
    await store('basket.changed', cloudEvent('bk-1', 'basket.changed', { basket: 'b-1' }));
    await store('basket.changed', cloudEvent('bk-2', 'basket.changed', { basket: 'b-1' }));
    // A number is no key: ingest would park this one as window_key, never start it.
    await store('basket.changed', cloudEvent('bk-3', 'basket.changed', { basket: 7 }));
    await store('basket.viewed', cloudEvent('bk-4', 'basket.viewed', { basket: 'b-1' }));

    const result = await client.definitions.backtest.query({ definition: spec, from, subject: 'basket.>' });
    expect(result).toMatchObject({
      scanned: 4,
      events: 4,
      rejected: { type: 1, source: 0, filter: 0, rule: 0 },
      errors: { filter: 0, windowKey: 1, plan: 0 },
      matched: 2,
      spawning: 2,
      tasksPlanned: 2,
    });
    expect(result.errors.samples).toEqual([
      {
        seq: expect.any(Number),
        stage: 'window_key',
        code: 'not_string',
        path: 'trigger.event.window.key',
        message: expect.any(String),
      },
    ]);
    // Each event is planned as a window of one, as dryRun plans it.
    expect(result.sample.map((s) => s.tasks.map((t) => t.title))).toEqual([
      ['1 change(s) to b-1'],
      ['1 change(s) to b-1'],
    ]);

    const saved = await client.definitions.create.mutate({ spec });
    const refused = await rawCall(
      `http://127.0.0.1:${api.port}/trpc`,
      'definitions.replay',
      'mutation',
      { definitionId: saved.id, from },
      BOOTSTRAP_TOKEN,
    );
    expect(refused.body.error?.data.fieldErrors).toEqual([
      { path: 'definitionId', message: expect.stringContaining('event window') },
    ]);
    expect((await client.runs.list.query({ definitionId: saved.id })).items).toEqual([]);
  });
});

describe('dead letters', () => {
  test('listed by reason and subject, shown with headers and body, redriven by reason and range', async () => {
    const js = jetstream(h.nc);
    const letter = (seq: number, subject: string, reason: 'invalid_json' | 'max_depth', body: string) =>
      publishDeadLetter(js, h.topology, {
        subject: `${h.topology.events.subjectPrefix}${subject}`,
        data: encoder.encode(body),
        headers: undefined,
        stream: h.topology.events.stream,
        streamSeq: seq,
        deliveryCount: 1,
        reason,
        message: `${reason} at ${seq}`,
      });
    await letter(9001, 'order.created', 'invalid_json', '{ broken');
    await letter(9002, 'order.created', 'max_depth', JSON.stringify(cloudEvent('dl-2', 'order.created', {})));
    await letter(9003, 'invoice.created', 'invalid_json', '{ also broken');
    await letter(9004, 'order.created', 'invalid_json', '{ third');

    const all = await client.deadLetters.list.query({});
    expect(all.items.map((l) => [l.originalSeq, l.reason, l.subject])).toEqual([
      [9001, 'invalid_json', `${h.topology.events.subjectPrefix}order.created`],
      [9002, 'max_depth', `${h.topology.events.subjectPrefix}order.created`],
      [9003, 'invalid_json', `${h.topology.events.subjectPrefix}invoice.created`],
      [9004, 'invalid_json', `${h.topology.events.subjectPrefix}order.created`],
    ]);
    expect(all.nextSeq).toBeNull();
    const byBoth = await client.deadLetters.list.query({ reason: 'invalid_json', subject: 'order.>' });
    expect(byBoth.items.map((l) => l.originalSeq)).toEqual([9001, 9004]);
    const paged = await client.deadLetters.list.query({ limit: 1 });
    expect(paged.items).toHaveLength(1);
    const page2 = await client.deadLetters.list.query({ limit: 1, afterSeq: paged.nextSeq ?? 0 });
    expect(page2.items[0]?.originalSeq).toBe(9002);

    const first = all.items[0];
    const shown = await client.deadLetters.get.query({ seq: first?.seq ?? 0 });
    expect(shown).toMatchObject({
      reason: 'invalid_json',
      message: 'invalid_json at 9001',
      body: { text: '{ broken' },
    });
    expect(shown.headers['Ac-Dlq-Reason']).toEqual(['invalid_json']);
    await expect(client.deadLetters.get.query({ seq: 999_999 })).rejects.toSatisfy(
      (e) => e instanceof TRPCClientError && e.data?.code === 'NOT_FOUND',
    );

    // The reason filter is honoured (it used to be dropped), and a range bounds the batch.
    const ranged = await client.events.redrive.mutate({
      reason: 'invalid_json',
      fromSeq: all.items[2]?.seq ?? 0,
      toSeq: all.items[3]?.seq ?? 0,
    });
    expect(ranged).toMatchObject({ redriven: 2, failed: [] });
    const left = await client.deadLetters.list.query({});
    expect(left.items.map((l) => l.originalSeq)).toEqual([9001, 9002]);
    const byReason = await client.events.redrive.mutate({ reason: 'max_depth' });
    expect(byReason.redriven).toBe(1);
    expect((await client.deadLetters.list.query({})).items.map((l) => l.originalSeq)).toEqual([9001]);
  });
});

describe('runs.follow', () => {
  test('returns every entry committed after the cursor exactly once, also for concurrent runs', async () => {
    const spec = eventSpec('follow-fan', {
      trigger: { kind: 'event', event: { types: ['order.created'] } },
      rules: [],
      taskTemplates: [{ key: 'item', forEach: '[1, 2, 3, 4, 5, 6, 7, 8]', title: 'Item {{ item }}' }],
    });
    const saved = await client.definitions.create.mutate({ spec });
    const other = await client.definitions.create.mutate({ spec: { ...spec, key: 'follow-other' } });
    const start = await client.runs.follow.query({ definitionId: saved.id });
    expect(start.items).toEqual([]);
    await Promise.all(
      [1, 2, 3].flatMap((i) => [
        client.runs.trigger.mutate({ definitionId: saved.id, idempotencyKey: `f-${i}` }),
        client.runs.trigger.mutate({ definitionId: other.id, idempotencyKey: `o-${i}` }),
      ]),
    );
    const seen: Array<{ runId: string; seq: number; definitionId: string }> = [];
    let cursor = start.cursor;
    const poll = async () => {
      for (;;) {
        const page = await client.runs.follow.query({ definitionId: saved.id, cursor, limit: 7 });
        seen.push(...page.items);
        cursor = page.cursor;
        if (!page.more) return;
      }
    };
    const expected: string[] = [];
    await waitFor(
      async () => {
        await poll();
        const runs = await client.runs.list.query({ definitionId: saved.id });
        if (runs.items.length !== 3 || runs.items.some((r) => r.status !== 'succeeded')) return false;
        expected.length = 0;
        for (const run of runs.items) {
          const log = await client.runs.logs.query({ runId: run.id, limit: 500 });
          expected.push(...log.items.map((e) => `${e.runId}#${e.seq}`));
        }
        return seen.length >= expected.length;
      },
      { what: 'the three runs finished and every entry of their logs was followed' },
    );
    const got = seen.map((e) => `${e.runId}#${e.seq}`);
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort()).toEqual(expected.sort());
    expect(seen.every((e) => e.definitionId === saved.id)).toBe(true);
    // Within one run, entries come in sequence order.
    for (const runId of new Set(seen.map((e) => e.runId))) {
      const seqs = seen.filter((e) => e.runId === runId).map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  test('a cursor that was not returned by follow is a field error', async () => {
    const bad = await rawCall(
      `http://127.0.0.1:${api.port}/trpc`,
      'runs.follow',
      'query',
      { cursor: 'bm90LWEtY3Vyc29y' },
      BOOTSTRAP_TOKEN,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error?.data.fieldErrors).toEqual([{ path: 'cursor', message: expect.any(String) }]);
  });
});
