// Open windows survive SIGKILL of ingest and the worker, and a redelivery of every event: the
// same runs, with the same events, and no event twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '@activity-core/db';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CONSUMER } from '../ingest/harness.ts';
import { waitFor } from '../support/wait.ts';
import { spawnWorkerProcess } from '../worker/harness.ts';
import { createWindowHarness, type DigestPayload, idsOf, type WindowHarness } from './harness.ts';

let w: WindowHarness;
let dir: string;
beforeAll(async () => {
  w = await createWindowHarness();
  dir = mkdtempSync(join(tmpdir(), 'ac-window-crash-'));
});
afterAll(async () => {
  await w?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Sent {
  readonly type: string;
  readonly data: { k: string; n: number };
  readonly id: string;
}

test('SIGKILL ingest and the worker while windows are open, redeliver everything: same runs, same events, no duplicates', async () => {
  const s = w.scope();
  // Long enough that the windows are still open when both processes are back.
  const debounce = await s.defineWindowed(
    { mode: 'debounce', key: 'event.data.k', quiet: 'PT20S' },
    { types: ['reading.changed'] },
  );
  const batch = await s.defineWindowed(
    { mode: 'batch', key: 'event.data.k', duration: 'PT20S', maxEvents: 10 },
    { types: ['item.added'] },
  );
  const spawnWorker = () =>
    spawnWorkerProcess({ databaseUrl: w.h.database.url, taskQueue: w.h.taskQueue, prefix: w.h.prefix, dir });
  let worker = await spawnWorker();
  let ingest = w.h.spawnIngest();
  await ingest.ready;

  const sent: Sent[] = [];
  const send = async (type: string, k: string, n: number) => {
    const data = { k, n };
    sent.push({ type, data, ...(await s.publish(type, data)) });
  };
  for (let n = 0; n < 6; n++) {
    await send('reading.changed', 'k1', n);
    await send('reading.changed', 'k2', n);
  }
  for (let n = 0; n < 14; n++) await send('item.added', 'k3', n);

  // Every event joined; the first batch closed at 10, its successor holds 4; the rest wait.
  const joined = async (definitionId: string) =>
    (await Promise.all((await w.windowRuns(definitionId)).map((r) => w.events(r.id)))).flat().length;
  await waitFor(async () => (await joined(debounce.id)) === 12 && (await joined(batch.id)) === 14, {
    what: 'all 26 events joined their windows',
    timeoutMs: 60_000,
  });
  const before = new Map<string, { run: RunRecord; ids: string[] }>();
  for (const definition of [debounce, batch]) {
    for (const run of await w.windowRuns(definition.id))
      before.set(run.id, { run, ids: idsOf(await w.events(run.id)) });
  }
  const waitingBefore = [...before.values()].filter((b) => b.run.status === 'waiting');
  expect(waitingBefore.map((b) => b.run.window?.key).sort()).toEqual(['k1', 'k2', 'k3']);

  const workerExit = new Promise((resolve) => worker.once('exit', (_code, signal) => resolve(signal)));
  worker.kill('SIGKILL');
  ingest.process.kill('SIGKILL');
  expect(await workerExit).toBe('SIGKILL');
  expect((await ingest.exited).signal).toBe('SIGKILL');

  // While both are down: every event again (a producer replaying its log), and new events
  // for the open windows.
  const replayed = [...sent];
  for (const event of replayed) await s.publish(event.type, event.data, { id: event.id });
  await send('reading.changed', 'k1', 100);
  await send('reading.changed', 'k2', 100);
  for (let n = 100; n < 103; n++) await send('item.added', 'k3', n);

  // Ingest first, and the worker once ingest has signalled every event: Temporal records the
  // signals while no worker runs, so the window workflows wake up with every event that arrived
  // before their deadlines already received, however long the restart took. (With the worker
  // up and ingest down past a deadline, the timer closes the window and a late event opens the
  // next one: README, "Event windows".)
  ingest = w.h.spawnIngest();
  await ingest.ready;
  await waitFor(
    async () => {
      const info = await w.h.jsm.consumers.info(w.h.topology.events.stream, CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { what: 'ingest to signal every event, replayed and new, with the worker down' },
  );
  worker = await spawnWorker();

  const runsOf = async (definitionId: string) => w.windowRuns(definitionId);
  let seen = '';
  await waitFor(
    async () => {
      const runs = [...(await runsOf(debounce.id)), ...(await runsOf(batch.id))];
      seen = runs.map((r) => `${r.window?.key}:${r.status}/${r.window?.count}`).join(', ');
      return runs.length === 4 && runs.every((r) => r.status === 'succeeded');
    },
    { what: 'the four windows to close and their runs to succeed', timeoutMs: 120_000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message} (runs: ${seen})`);
  });

  const after = [...(await runsOf(debounce.id)), ...(await runsOf(batch.id))];
  // The same runs: every run there was before the crash, and no other.
  expect(new Set(after.map((r) => r.id))).toEqual(new Set(before.keys()));
  const all: string[] = [];
  for (const run of after) {
    const ids = idsOf(await w.events(run.id));
    all.push(...ids);
    // What had joined before the crash is still there, in the same places.
    expect(ids.slice(0, before.get(run.id)?.ids.length)).toEqual(before.get(run.id)?.ids);
    const kept = sent.filter((e) => e.data.k === run.window?.key).map((e) => e.id);
    if (run.window?.key !== 'k3') expect(new Set(ids)).toEqual(new Set(kept));
    // The run saw exactly its window's events.
    let payload: DigestPayload | undefined;
    await waitFor(
      async () => {
        payload = (await w.tasks(run.id))[0]?.payload as DigestPayload | undefined;
        return payload !== undefined;
      },
      { what: `the digest of run ${run.id}` },
    );
    expect(payload?.ids).toEqual(ids);
    expect(run.window?.count).toBe(ids.length);
  }
  // No event twice, and every event once.
  expect(all).toHaveLength(new Set(all).size);
  expect(new Set(all)).toEqual(new Set(sent.map((e) => e.id)));
  // In the order the windows opened (their run rows' creation; `openedAt` is the arrival of a
  // window's first signalled event, and ingest's concurrent starts may signal events out of
  // publication order).
  const batches = [...(await runsOf(batch.id))]
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
    .map((r) => [r.window?.count, r.window?.reason]);
  expect(batches).toEqual([
    [10, 'maxEvents'],
    [7, 'duration'],
  ]);
  // The replayed copies were recognised, not counted.
  const duplicates = after.reduce((n, r) => n + (r.window?.duplicates ?? 0), 0);
  expect(duplicates).toBeGreaterThanOrEqual(replayed.length);

  await ingest.stop();
  const stopped = new Promise((resolve) => worker.once('exit', resolve));
  worker.kill('SIGTERM');
  await stopped;
}, 300_000);
