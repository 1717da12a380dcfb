import { describe, expect, test } from 'vitest';
import { ReadBarrier } from './read-barrier.ts';

/** A read that waits until the test lets it finish, and counts how often it started. */
function controlledRead() {
  const pending: Array<{ resolve(): void; reject(e: unknown): void }> = [];
  let starts = 0;
  const read = () =>
    new Promise<void>((resolve, reject) => {
      starts++;
      pending.push({ resolve, reject });
    });
  const settle = async (outcome: 'ok' | Error = 'ok') => {
    await new Promise((r) => setImmediate(r));
    const first = pending.shift();
    if (!first) throw new Error('no read is running');
    if (outcome === 'ok') first.resolve();
    else first.reject(outcome);
    await new Promise((r) => setImmediate(r));
  };
  return { read, settle, starts: () => starts, running: () => pending.length };
}

describe('ReadBarrier', () => {
  test('a ticket taken while a read runs waits for the next read, which all such callers share', async () => {
    const r = controlledRead();
    const barrier = new ReadBarrier(r.read);
    const early = barrier.after(barrier.ticket());
    await new Promise((res) => setImmediate(res));
    expect(r.starts()).toBe(1);
    // Arrive while the first read runs: it may have been sent before them, so it does not count.
    const late = [barrier.after(barrier.ticket()), barrier.after(barrier.ticket()), barrier.after(barrier.ticket())];
    let lateDone = false;
    void Promise.all(late).then(() => {
      lateDone = true;
    });
    await r.settle();
    await expect(early).resolves.toBeUndefined();
    expect(lateDone).toBe(false);
    expect(r.starts()).toBe(2);
    await r.settle();
    await Promise.all(late);
    expect(r.starts()).toBe(2);
    // A ticket taken before the last completed read started needs no read at all.
    const old = 0;
    await barrier.after(old);
    expect(r.starts()).toBe(2);
  });

  test('a failed read rejects its callers; the next caller starts a new read', async () => {
    const r = controlledRead();
    const barrier = new ReadBarrier(r.read);
    const first = expect(barrier.after(barrier.ticket())).rejects.toThrow('database down');
    await r.settle(new Error('database down'));
    await first;
    const again = barrier.after(barrier.ticket());
    await r.settle();
    await expect(again).resolves.toBeUndefined();
    expect(r.starts()).toBe(2);
    expect(r.running()).toBe(0);
  });
});
