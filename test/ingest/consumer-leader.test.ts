// Ingest while the `ac-ingest` consumer's leader moves (issue 18): on a 3-node cluster with R3
// streams and consumer, the leader is stepped down through the JetStream API while ingest waits
// on a pull, and the next events are published from that moment on. The pull ingest has pending dies with the old leader's role (nats-server answers it
// "409 Leadership Change") and nats.js pulls again only after two missed idle heartbeats (half the pull's `expires` each), so ingest
// stalls for about one `expires`. Run with nats.js' default (30 s) and with ingest's
// (AC_INGEST_PULL_EXPIRES_MS, 5 s); both must process every event exactly once. The stall is
// printed, not asserted.
import { DEFAULT_PULL_EXPIRES_MS } from '@activity-core/ingest';
import type { JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { consumerInfoOrNotYet, startTestNatsCluster, type TestNatsCluster } from '../support/nats-cluster.ts';
import { outlasting, sleep, WAIT_MS, waitFor } from '../support/wait.ts';
import { CONSUMER, createIngestHarness, expectedRunId } from './harness.ts';

const EVENTS = 150;
/** Publishes per second: ~4 s for each half. */
const RATE = 20;
/** Every event acked: the stall (up to 2 x 15 s heartbeats with nats.js' default) plus the backlog. */
const ACKED_MS = 120_000;
const NATS_JS_DEFAULT_EXPIRES_MS = 30_000;

let cluster: TestNatsCluster;
beforeAll(async () => {
  cluster = await startTestNatsCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});

test.each([
  { label: "nats.js' default", expiresMs: NATS_JS_DEFAULT_EXPIRES_MS },
  { label: 'AC_INGEST_PULL_EXPIRES_MS default', expiresMs: DEFAULT_PULL_EXPIRES_MS },
])(
  'the ac-ingest consumer leader steps down while events flow: each event is started exactly once (pull expires $expiresMs ms, $label)',
  async ({ expiresMs }) => {
    await using h = await createIngestHarness({ natsUrl: cluster.url, replicas: 3 });
    const type = 'leader.move';
    const def = await h.defineEvent({ types: [type] });
    await h.startWorker();
    await h.startInProcess({ pullExpiresMs: expiresMs });
    const stream = h.topology.events.stream;
    const progress = watchProgress(h.jsm, stream);
    try {
      const before = await waitFor(() => consumerInfoOrNotYet(h.jsm, stream, CONSUMER), {
        what: `${CONSUMER} on ${stream} with a leader`,
        until: (info) => !!info?.cluster?.leader,
      });
      const oldLeader = before?.cluster?.leader;

      // First half, then wait until ingest has caught up: it is then waiting on a pull that the
      // old leader holds, the case that stalls. The second half is published from the moment
      // of the step-down on, so events arrive while the leader moves.
      const publish = async (from: number, to: number) => {
        const t0 = Date.now();
        for (let i = from; i < to; i++) {
          const wait = t0 + ((i - from) / RATE) * 1000 - Date.now();
          if (wait > 0) await sleep(wait);
          await h.js.publish(
            `${h.topology.events.subjectPrefix}${type}`,
            JSON.stringify({ specversion: '1.0', source: 'urn:test:leader', type, id: `lm-${i}` }),
            { msgID: `lm-${i}` },
          );
        }
      };
      const half = EVENTS / 2;
      await publish(0, half);
      await waitFor(() => consumerInfoOrNotYet(h.jsm, stream, CONSUMER), {
        what: `the first ${half} events acked on ${CONSUMER}`,
        until: (info) => info?.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= half,
      });
      const steppedDownAt = Date.now();
      const reply = await h.nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${CONSUMER}`, '', {
        timeout: WAIT_MS,
      });
      const answer = reply.json<{ success?: boolean; error?: unknown }>();
      expect(answer, `the step-down of ${CONSUMER}`).toMatchObject({ success: true });
      const publishing = publish(half, EVENTS);
      const after = await waitFor(() => consumerInfoOrNotYet(h.jsm, stream, CONSUMER), {
        what: `a new leader of ${CONSUMER} (was ${oldLeader})`,
        until: (info) => !!info?.cluster?.leader && info.cluster.leader !== oldLeader,
      });
      await publishing;

      await waitFor(() => consumerInfoOrNotYet(h.jsm, stream, CONSUMER), {
        what: `all ${EVENTS} events delivered and acked on ${CONSUMER}`,
        until: (info) => info?.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= EVENTS,
        timeoutMs: ACKED_MS,
      });
      const stalls = await progress.stop();
      const longestBefore = longestGap(stalls.filter((g) => g.end <= steppedDownAt));
      const longestAfter = longestGap(stalls.filter((g) => g.end > steppedDownAt));
      console.log(
        `[consumer-leader] pull expires ${expiresMs} ms: ${CONSUMER} leader ${oldLeader} -> ${after?.cluster?.leader}; ` +
          `longest time with work waiting and no delivery or ack: ${longestBefore} ms before the step-down, ` +
          `${longestAfter} ms after it (${EVENTS} events at ${RATE}/s, the step-down once the first half was acked)`,
      );

      const runIds = Array.from({ length: EVENTS }, (_, i) => expectedRunId(def.id, 'urn:test:leader', `lm-${i}`));
      const counts = await waitFor(() => executionCounts(h, runIds), {
        what: `all ${EVENTS} runs in Temporal's visibility`,
        until: (seen) => seen.every((n) => n >= 1),
        intervalMs: 500,
      });
      expect(runIds.filter((_, i) => counts[i] !== 1)).toEqual([]);
      expect(await h.deadLetters()).toEqual([]);
    } finally {
      await progress.stop();
    }
  },
  outlasting(WAIT_MS, WAIT_MS, ACKED_MS, WAIT_MS, WAIT_MS),
);

interface Gap {
  /** When progress resumed (ms since epoch) and how long it had stood still with work waiting. */
  readonly end: number;
  readonly ms: number;
}

function longestGap(gaps: readonly Gap[]): number {
  return gaps.reduce((m, g) => Math.max(m, g.ms), 0);
}

/**
 * Samples the consumer every 100 ms and records each stretch in which messages waited (pending
 * or unacknowledged) while neither a delivery nor the ack floor moved.
 */
function watchProgress(jsm: JetStreamManager, stream: string): { stop(): Promise<Gap[]> } {
  const gaps: Gap[] = [];
  let last: { delivered: number; acked: number } | undefined;
  let still: number | undefined;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const info = await consumerInfoOrNotYet(jsm, stream, CONSUMER);
      const now = Date.now();
      if (info) {
        const seen = { delivered: info.delivered.consumer_seq, acked: info.ack_floor.stream_seq };
        const moved = !last || seen.delivered !== last.delivered || seen.acked !== last.acked;
        const waiting = info.num_pending + info.num_ack_pending > 0;
        if (moved) {
          if (still !== undefined) gaps.push({ end: now, ms: now - still });
          still = waiting ? now : undefined;
        } else if (waiting && still === undefined) {
          still = now;
        }
        last = seen;
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return gaps;
    },
  };
}

/** Executions per run id, a few lookups at a time. */
async function executionCounts(h: { runCount(id: string): Promise<number> }, runIds: string[]): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < runIds.length; i += 25) {
    counts.push(...(await Promise.all(runIds.slice(i, i + 25).map((id) => h.runCount(id)))));
  }
  return counts;
}
