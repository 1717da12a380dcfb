// Event windows end to end on the real stack: events published to JetStream, ingest in-process,
// the real worker (EventWindowWorkflow, RunActivityWorkflow, activities) and PostgreSQL.

import type { AppRouter } from '@activity-core/api';
import {
  EventEnvelope,
  runWorkflowIdForEvent,
  runWorkflowIdForWindow,
  windowKeyHash,
  windowWorkflowId,
} from '@activity-core/core';
import type { RunRecord } from '@activity-core/db';
import { type EventWindowInput, WorkflowTypes, windowEventSignal } from '@activity-core/workflows';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApiOnHarness } from '../api/support.ts';
import { DlqHeader } from '../ingest/harness.ts';
import { waitFor } from '../support/wait.ts';
import { createWindowHarness, type DigestPayload, idsOf, keyOf, type WindowHarness } from './harness.ts';

let w: WindowHarness;
let api: Awaited<ReturnType<typeof startApiOnHarness>>;
beforeAll(async () => {
  w = await createWindowHarness();
  await w.startWorker();
  await w.startIngest();
  api = await startApiOnHarness(w.h);
});
afterAll(async () => {
  await api?.api.stop();
  await w?.[Symbol.asyncDispose]();
});

const finished = (run: RunRecord) => !['waiting', 'pending', 'running'].includes(run.status);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the definition has `n` window runs, all finished, and returns them (oldest first). */
async function finishedRuns(definitionId: string, n: number, what: string): Promise<RunRecord[]> {
  // The timeout error shows the last runs seen (status, window count).
  return waitFor(() => w.windowRuns(definitionId), {
    what: `${what}: ${n} finished window runs`,
    until: (runs) => runs.length >= n && runs.every(finished),
    timeoutMs: 90_000,
  });
}

/** `ac_window_events_ignored_total` of the worker. */
async function ignoredEvents(): Promise<number> {
  const metric = await w.metrics.getSingleMetric('ac_window_events_ignored_total')?.get();
  return metric?.values[0]?.value ?? Number.NaN;
}

async function digest(run: RunRecord): Promise<DigestPayload> {
  let payload: DigestPayload | undefined;
  await waitFor(
    async () => {
      const [task] = await w.tasks(run.id);
      payload = task?.payload as DigestPayload | undefined;
      return payload !== undefined;
    },
    { what: `the digest task of run ${run.id}` },
  );
  return payload as DigestPayload;
}

describe('debounce', () => {
  test('20 events of one key in bursts make one run after the quiet period with all 20; a second key its own', async () => {
    const s = w.scope();
    // The bursts are 300 ms apart; a quiet period far longer keeps a loaded machine's delivery
    // lag from splitting a key's events into two windows.
    const definition = await s.defineWindowed({ mode: 'debounce', key: 'event.data.orderId', quiet: 'PT8S' });
    const sent: Record<string, string[]> = { a: [], b: [] };
    for (let burst = 0; burst < 4; burst++) {
      for (let i = 0; i < 5; i++) {
        sent.a?.push((await s.publish('order.updated', { orderId: 'order-a', burst, i })).id);
        if (i % 2 === 0) sent.b?.push((await s.publish('order.updated', { orderId: 'order-b', burst, i })).id);
      }
      await sleep(300);
    }
    const runs = await finishedRuns(definition.id, 2, 'two keys');
    expect(runs).toHaveLength(2);
    for (const [name, orderId] of [
      ['a', 'order-a'],
      ['b', 'order-b'],
    ] as const) {
      const run = runs.find((r) => r.window?.key === orderId);
      if (!run?.window) throw new Error(`no run for ${orderId}`);
      const expected = sent[name] ?? [];
      const events = await w.events(run.id);
      expect(new Set(idsOf(events))).toEqual(new Set(expected));
      expect(events).toHaveLength(expected.length);
      expect(run).toMatchObject({ status: 'succeeded', triggerKind: 'window' });
      // Not `duplicates: 0`: on a loaded machine a start can outlast the harness's 1.5 s ack wait,
      // and JetStream redelivers; the window counts a redelivered event as a duplicate (its own
      // test is below) and never twice in `count`, which is what this test checks.
      expect(run.window).toMatchObject({
        reason: 'quiet',
        count: expected.length,
        stored: expected.length,
        duplicates: expect.any(Number),
      });
      const keyHash = windowKeyHash(orderId);
      expect(run.workflowId).toBe(runWorkflowIdForWindow(definition.id, keyHash, run.window.openingEventKey));
      expect(run.window.openingEventKey).toBe(events[0]?.eventKey);
      // It closed a whole quiet period after its last event joined (workflow time, recorded).
      const lastJoined = Math.max(...events.map((e) => e.joinedAt.getTime()));
      expect(Date.parse(run.window.closedAt ?? '')).toBeGreaterThanOrEqual(lastJoined + 8000);
      // The run saw exactly the window's events, in join order, the last as `event`.
      const payload = await digest(run);
      expect(payload).toEqual({
        key: orderId,
        count: expected.length,
        reason: 'quiet',
        ids: idsOf(events),
        last: idsOf(events).at(-1),
      });
      const kinds = await w.logKinds(run.id);
      expect(kinds.filter((k) => k === 'event_joined')).toHaveLength(expected.length);
      expect(kinds.indexOf('window_closed')).toBeLessThan(kinds.indexOf('triggered'));
      expect(kinds).toContain('run_finished');
    }
  });

  test('maxWait bounds a stream that is never quiet', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed({
      mode: 'debounce',
      key: 'event.data.sensor',
      // Events come every 200 ms: only a 6 s stall of a loaded machine would make it quiet.
      quiet: 'PT6S',
      maxWait: 'PT6S',
    });
    const sent: string[] = [];
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      sent.push((await s.publish('order.updated', { sensor: 's-1', n: sent.length })).id);
      await sleep(200);
    }
    // Every window closed (maxWait, 6 s after it opened) and every event in one of them.
    const runs = await waitFor(() => w.windowRuns(definition.id), {
      what: `a never-quiet stream: finished window runs holding all ${sent.length} events`,
      until: (rs) =>
        rs.length >= 2 && rs.every(finished) && rs.reduce((n, r) => n + (r.window?.count ?? 0), 0) === sent.length,
      timeoutMs: 90_000,
    });
    const first = runs[0];
    expect(first?.window).toMatchObject({ reason: 'maxWait' });
    // Opened by the first event, closed by maxWait: 6 s of the stream, not all 10 s of it.
    expect(first?.window?.count).toBeLessThan(sent.length);
    expect(Date.parse(first?.window?.closedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(first?.window?.openedAt ?? '') + 6000,
    );
    // Every event is in exactly one window, in the order the windows opened.
    const all = (await Promise.all(runs.map((r) => w.events(r.id)))).flatMap(idsOf);
    expect(all).toHaveLength(sent.length);
    expect(new Set(all)).toEqual(new Set(sent));
  });
});

describe('batch', () => {
  test('maxEvents 10 with 35 events: 4 runs of 10, 10, 10 and 5 (the last after its duration)', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed({
      mode: 'batch',
      key: 'event.source',
      // Long enough that each batch of 10 fills before its duration on a loaded machine.
      duration: 'PT20S',
      maxEvents: 10,
    });
    const sent: string[] = [];
    for (let i = 0; i < 35; i++) sent.push((await s.publish('order.updated', { i }, { source: 'urn:batch' })).id);
    const runs = await finishedRuns(definition.id, 4, 'four batches');
    expect(runs.map((r) => [r.window?.count, r.window?.reason])).toEqual([
      [10, 'maxEvents'],
      [10, 'maxEvents'],
      [10, 'maxEvents'],
      [5, 'duration'],
    ]);
    const lists = await Promise.all(runs.map((r) => w.events(r.id)));
    expect(new Set(lists.flatMap(idsOf))).toEqual(new Set(sent));
    for (const [i, run] of runs.entries()) {
      expect((await digest(run)).ids).toEqual(idsOf(lists[i] ?? []));
      expect(run.status).toBe('succeeded');
    }
  });
});

describe('allOf', () => {
  // Expiry is tested on its own, with a short window. The complete cases get a window far longer
  // than the test, so how late a loaded machine delivers the last event cannot expire them.
  const allOf = { mode: 'allOf', key: 'event.data.orderId', types: ['order.paid', 'order.shipped'], duration: 'PT6S' };
  const allOfLong = { ...allOf, duration: 'PT30M' };
  const types = ['order.paid', 'order.shipped', 'order.noted'];

  test('A then B, and B before A, each make one run with both', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed(allOfLong as never, { types });
    // Each event is published once the one before it joined: ingest hands up to its in-flight
    // limit of events to Temporal at once, so events of one key published a millisecond apart
    // can reach the window in either order (a `noted` handled after the window completed on
    // `paid` + `shipped` opens the next window).
    const inOrder = async (orderId: string, types: readonly string[]): Promise<string[]> => {
      const ids: string[] = [];
      for (const type of types) {
        ids.push((await s.publish(type, { orderId })).id);
        await waitFor(() => w.windowRuns(definition.id), {
          what: `${orderId}: event ${ids.length} (${type}) joined its window`,
          until: (runs) => runs.some((r) => r.window?.key === orderId && (r.window?.count ?? 0) >= ids.length),
        });
      }
      return ids;
    };
    const ab = await inOrder('ab', ['order.paid', 'order.noted', 'order.shipped']);
    const ba = await inOrder('ba', ['order.shipped', 'order.paid']);
    const runs = await finishedRuns(definition.id, 2, 'two correlations');
    expect(runs).toHaveLength(2);
    const byKey = new Map(runs.map((r) => [r.window?.key, r]));
    for (const [key, ids] of [
      ['ab', ab],
      ['ba', ba],
    ] as const) {
      const run = byKey.get(key) as RunRecord;
      expect(run).toMatchObject({ status: 'succeeded', window: { reason: 'complete', count: ids.length } });
      expect(idsOf(await w.events(run.id))).toEqual(expect.arrayContaining([...ids]));
      expect((await digest(run)).reason).toBe('complete');
    }
  });

  test('another type the trigger matches joins an open window (above) but opens none', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed(allOfLong as never, { types });
    const ignoredBefore = await ignoredEvents();
    // `noted` first, alone: the key's window workflow starts for it, opens nothing, and ends.
    const mailbox = windowWorkflowId(definition.id, windowKeyHash('noted-first'));
    await s.publish('order.noted', { orderId: 'noted-first' });
    await waitFor(async () => (await w.h.runCount(mailbox)) === 1, { what: 'the window workflow execution' });
    await waitFor(async () => (await w.h.client.workflow.getHandle(mailbox).describe()).status.name === 'COMPLETED', {
      what: 'the window workflow to end',
    });
    expect(await w.windowRuns(definition.id)).toEqual([]);
    // At least once: a redelivery of the lone event (the harness's 1.5 s ack wait under load) is
    // ignored, and counted, again.
    expect((await ignoredEvents()) - ignoredBefore).toBeGreaterThanOrEqual(1);
    // The correlation opens on `paid`, and completes with `shipped`.
    const paid = await s.publish('order.paid', { orderId: 'noted-first' });
    await waitFor(() => w.windowRuns(definition.id), {
      what: 'paid opened a window',
      until: (runs) => runs.length === 1,
    });
    const shipped = await s.publish('order.shipped', { orderId: 'noted-first' });
    const [run] = await finishedRuns(definition.id, 1, 'the correlation after a lone noted');
    if (!run) throw new Error('no run');
    expect(run).toMatchObject({ status: 'succeeded', window: { reason: 'complete', count: 2 } });
    expect(idsOf(await w.events(run.id))).toEqual([paid.id, shipped.id]);
    expect(await w.windowRuns(definition.id)).toHaveLength(1);
  });

  test('A alone expires, recorded, spawning nothing', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed(allOf as never, { types });
    const alone = [(await s.publish('order.paid', { orderId: 'alone' })).id];
    const [expired] = await finishedRuns(definition.id, 1, 'a lone correlation');
    expect(expired).toMatchObject({ status: 'expired', window: { reason: 'expired', count: 1 } });
    const run = expired as RunRecord;
    expect(idsOf(await w.events(run.id))).toEqual(alone);
    expect(await w.tasks(run.id)).toEqual([]);
    expect(await w.logKinds(run.id)).toEqual(['event_joined', 'window_closed']);
  });

  test('an expired window spawns the templates marked onExpired, and its run ends expired', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed(allOf as never, {
      types,
      extraTemplates: [{ key: 'chase', title: 'order {{ window.key }} paid but not shipped', onExpired: true }],
    });
    await s.publish('order.paid', { orderId: 'late' });
    const [run] = await finishedRuns(definition.id, 1, 'an expired correlation');
    if (!run) throw new Error('no run');
    expect(run).toMatchObject({ status: 'expired', window: { reason: 'expired' } });
    await waitFor(async () => (await w.tasks(run.id)).length === 1, { what: 'the onExpired task' });
    expect((await w.tasks(run.id)).map((t) => [t.templateKey, t.title])).toEqual([
      ['chase', 'order late paid but not shipped'],
    ]);
  });
});

describe('continue-as-new', () => {
  test('an open window outlives its workflow continuing as new: one run with every event', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed({ mode: 'batch', key: 'event.data.k', duration: 'PT8S' });
    const keyHash = windowKeyHash('can');
    const mailbox = windowWorkflowId(definition.id, keyHash);
    // The key's window workflow as ingest starts it, but continuing as new every 4 signals.
    const input: EventWindowInput = { definitionId: definition.id, key: 'can', keyHash, signalsPerRun: 4 };
    const first = EventEnvelope.parse({
      specversion: '1.0',
      id: 'can-first',
      source: 'urn:window-test',
      type: s.type('order.updated'),
      data: { k: 'can' },
    });
    await w.h.client.workflow.signalWithStart(WorkflowTypes.eventWindow, {
      taskQueue: w.h.taskQueue,
      workflowId: mailbox,
      args: [input],
      signal: windowEventSignal,
      signalArgs: [{ envelope: first, version: definition.version }],
    });
    const sent = [first.id];
    for (let n = 0; n < 15; n++) sent.push((await s.publish('order.updated', { k: 'can', n })).id);
    const [run] = await finishedRuns(definition.id, 1, 'the window across continue-as-new');
    if (!run) throw new Error('no run');
    expect(run.window).toMatchObject({ reason: 'duration', count: 16 });
    const ids = idsOf(await w.events(run.id));
    expect(new Set(ids)).toEqual(new Set(sent));
    expect((await digest(run)).ids).toEqual(ids);
    // The first execution continued as new (signals come in batches, so the count varies).
    await waitFor(async () => (await w.h.runCount(mailbox)) >= 2, { what: 'the window workflow to continue as new' });
  });
});

describe('event identity inside windows', () => {
  test('duplicates of an event (same source and id) join once, during the window and after it', async () => {
    const s = w.scope();
    // The bursts are 300 ms apart; a quiet period far longer keeps a loaded machine's delivery
    // lag from splitting a key's events into two windows.
    const definition = await s.defineWindowed({ mode: 'debounce', key: 'event.data.orderId', quiet: 'PT8S' });
    const one = await s.publish('order.updated', { orderId: 'dup', n: 1 });
    const two = await s.publish('order.updated', { orderId: 'dup', n: 2 });
    // The same CloudEvent again (a producer retry, a redrive): same source and id.
    await s.publish('order.updated', { orderId: 'dup', n: 1 }, { id: one.id });
    await s.publish('order.updated', { orderId: 'dup', n: 2 }, { id: two.id });
    const [run] = await finishedRuns(definition.id, 1, 'the window with duplicates');
    if (!run) throw new Error('no run');
    expect(idsOf(await w.events(run.id))).toHaveLength(2);
    expect(run.window).toMatchObject({ count: 2, duplicates: 2 });
    expect((await digest(run)).ids.sort()).toEqual([one.id, two.id].sort());

    // After the window closed, a duplicate opens no new window: the key's window workflow
    // starts, finds the event claimed, and ends.
    const mailbox = windowWorkflowId(definition.id, windowKeyHash('dup'));
    const before = await w.h.runCount(mailbox);
    await s.publish('order.updated', { orderId: 'dup', n: 1 }, { id: one.id });
    await waitFor(async () => (await w.h.runCount(mailbox)) === before + 1, {
      what: 'a second window workflow execution',
    });
    await waitFor(async () => (await w.h.client.workflow.getHandle(mailbox).describe()).status.name === 'COMPLETED', {
      what: 'the window workflow to end',
    });
    expect(await w.windowRuns(definition.id)).toHaveLength(1);
  });
});

describe('window keys', () => {
  test('an event without a usable key is dead-lettered for that definition; other definitions still run', async () => {
    const s = w.scope();
    const windowed = await s.defineWindowed({ mode: 'batch', key: 'event.data.orderId', duration: 'PT2S' });
    const plain = await s.definePlain(['order.updated']);
    const { id } = await s.publish('order.updated', { orderId: 42 });
    await waitFor(async () => (await w.h.deadLetters()).some((d) => d.header(DlqHeader.reason) === 'window_key'), {
      what: 'a window_key dead letter',
    });
    const letter = (await w.h.deadLetters()).find((d) => d.header(DlqHeader.reason) === 'window_key');
    expect(letter?.header(DlqHeader.field)).toBe('trigger.event.window.key');
    expect(letter?.header(DlqHeader.message)).toContain(`${windowed.key}: not_string`);
    expect(letter?.headers?.values(DlqHeader.definition)).toEqual([windowed.key]);
    // The windowless definition started its run as before: one run per event, the same id scheme.
    const runId = runWorkflowIdForEvent(plain.id, keyOf(id));
    await waitFor(() => w.h.workflowExists(runId), { what: `the plain run ${runId}` });
    expect(await w.windowRuns(windowed.id)).toEqual([]);
  });

  test('a windowed definition whose filter fails parks filter_error; another one whose key fails, window_key', async () => {
    const s = w.scope();
    // `n > 1` on a string is an evaluation error: the filter says neither yes nor no.
    const filtered = await s.defineWindowed(
      { mode: 'batch', key: 'event.data.orderId', duration: 'PT2S' },
      { filter: 'event.data.n > 1' },
    );
    const keyed = await s.defineWindowed({ mode: 'batch', key: 'event.data.orderId', duration: 'PT2S' });
    const plain = await s.definePlain(['order.updated']);
    const { id } = await s.publish('order.updated', { orderId: 42, n: 'x' });
    const lettersOf = async () => {
      const letters = await w.h.deadLetters();
      const about = (key: string) => letters.filter((d) => d.headers?.values(DlqHeader.definition).includes(key));
      return { filtered: about(filtered.key), keyed: about(keyed.key) };
    };
    await waitFor(
      async () => {
        const found = await lettersOf();
        return found.filtered.length > 0 && found.keyed.length > 0;
      },
      { what: `a filter_error copy for ${filtered.key} and a window_key copy for ${keyed.key}` },
    );
    const found = await lettersOf();
    // One copy per reason, each naming only its own definition; the same message behind both.
    expect(found.filtered.map((d) => d.header(DlqHeader.reason))).toEqual(['filter_error']);
    expect(found.filtered[0]?.header(DlqHeader.field)).toBe('trigger.event.filter');
    expect(found.filtered[0]?.headers?.values(DlqHeader.definition)).toEqual([filtered.key]);
    expect(found.keyed.map((d) => d.header(DlqHeader.reason))).toEqual(['window_key']);
    expect(found.keyed[0]?.headers?.values(DlqHeader.definition)).toEqual([keyed.key]);
    expect(found.keyed[0]?.header(DlqHeader.streamSeq)).toBe(found.filtered[0]?.header(DlqHeader.streamSeq));
    const runId = runWorkflowIdForEvent(plain.id, keyOf(id));
    await waitFor(() => w.h.workflowExists(runId), { what: `the plain run ${runId}` });
    expect(await w.windowRuns(filtered.id)).toEqual([]);
    expect(await w.windowRuns(keyed.id)).toEqual([]);
  });
});

describe('operators', () => {
  test('see a waiting window with its events, close it now, or discard it', async () => {
    const s = w.scope();
    const definition = await s.defineWindowed({ mode: 'debounce', key: 'event.data.orderId', quiet: 'PT1H' });
    const ids = [
      (await s.publish('order.updated', { orderId: 'keep' })).id,
      (await s.publish('order.updated', { orderId: 'keep' })).id,
    ];
    await s.publish('order.updated', { orderId: 'drop' });
    let waiting: RunRecord[] = [];
    await waitFor(
      async () => {
        waiting = await w.windowRuns(definition.id);
        return (
          waiting.length === 2 &&
          waiting.every((r) => r.status === 'waiting') &&
          waiting.reduce((n, r) => n + (r.window?.count ?? 0), 0) === 3
        );
      },
      { what: 'two waiting windows holding three events' },
    );

    const listed = await api.client.runs.list.query({ definitionId: definition.id, status: 'waiting' });
    expect(listed.items.map((r) => r.window?.key).sort()).toEqual(['drop', 'keep']);
    const keep = listed.items.find((r) => r.window?.key === 'keep');
    const drop = listed.items.find((r) => r.window?.key === 'drop');
    if (!keep || !drop) throw new Error('missing windows');
    const got = await api.client.runs.get.query({ id: keep.id });
    expect(got.status).toBe('waiting');
    expect(got.events?.map((e) => e.envelope?.id).sort()).toEqual([...ids].sort());

    const closed = await api.client.runs.trigger.mutate({ runId: keep.id });
    expect(closed).toMatchObject({ workflowId: keep.workflowId, started: true });
    const cancelled = await api.client.runs.cancel.mutate({ id: drop.id, reason: 'not needed' });
    expect(cancelled).toMatchObject({ status: 'cancelled', window: { reason: 'discarded', count: 1 } });

    const [first, second] = await finishedRuns(definition.id, 2, 'the closed and the discarded window');
    const kept = [first, second].find((r) => r?.id === keep.id) as RunRecord;
    expect(kept).toMatchObject({ status: 'succeeded', window: { reason: 'closed', count: 2 } });
    expect((await digest(kept)).reason).toBe('closed');
    expect(await w.tasks(drop.id)).toEqual([]);
    expect(await w.logKinds(drop.id)).toEqual(['event_joined', 'window_closed']);

    // Neither is waiting any more: both calls are refused now.
    for (const call of [
      () => api.client.runs.trigger.mutate({ runId: keep.id }),
      () => api.client.runs.cancel.mutate({ id: drop.id }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TRPCClientError);
      expect((error as TRPCClientError<AppRouter>).data?.code).toBe('CONFLICT');
    }
  });
});
