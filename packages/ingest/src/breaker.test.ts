import { describe, expect, test } from 'vitest';
import { MAX_PROBE_INTERVAL_MS, PauseBreaker } from './breaker.ts';

/** A breaker whose probe fails `failures` times, with a sleep that only records its waits. */
function breaker(failures: number, probeIntervalMs?: number) {
  const events: string[] = [];
  const waits: number[] = [];
  let probes = 0;
  const b = new PauseBreaker({
    probe: async () => {
      probes++;
      if (probes <= failures) throw new Error(`still down (${probes})`);
    },
    ...(probeIntervalMs !== undefined ? { probeIntervalMs } : {}),
    sleep: async (ms) => void waits.push(ms),
    onPause: (reason) => events.push(`pause: ${reason}`),
    onResume: () => events.push('resume'),
  });
  return { b, events, waits, probes: () => probes };
}

describe('the pause/probe breaker', () => {
  test('closed: waiting returns at once, without probing', async () => {
    const { b, waits, probes } = breaker(0);
    expect(b.paused).toBe(false);
    await b.waitUntilClosed(() => false);
    expect(waits).toEqual([]);
    expect(probes()).toBe(0);
  });

  test('a pause opens it once, however many failures report it', () => {
    const { b, events } = breaker(0);
    b.pause('Temporal is unavailable');
    b.pause('the definition index is stale');
    expect(b.paused).toBe(true);
    expect(events).toEqual(['pause: Temporal is unavailable']);
  });

  test('probes with a doubling wait until one succeeds, then closes', async () => {
    const { b, events, waits, probes } = breaker(3);
    b.pause('down');
    await b.waitUntilClosed(() => false);
    expect(b.paused).toBe(false);
    expect(waits).toEqual([250, 500, 1000, 2000]);
    expect(probes()).toBe(4);
    expect(events).toEqual(['pause: down', 'resume']);
  });

  test('the wait between probes is capped', async () => {
    const { b, waits } = breaker(6, 1000);
    b.pause('down');
    await b.waitUntilClosed(() => false);
    expect(waits).toEqual([1000, 2000, 4000, ...Array(4).fill(MAX_PROBE_INTERVAL_MS)]);
  });

  test('a stop ends the wait, still open, without another probe', async () => {
    const { b, events, probes } = breaker(100);
    b.pause('down');
    // The breaker asks before each wait and after it: two probes fit in the first four answers.
    let asked = 0;
    await b.waitUntilClosed(() => ++asked > 4);
    expect(b.paused).toBe(true);
    expect(probes()).toBe(2);
    expect(events).toEqual(['pause: down']);
  });
});
