import { jitteredBackoffMs } from '@activity-core/core';
import {
  type Database,
  markOutboxPublished,
  type OutboxRecord,
  prepareOutboxClaim,
  recordOutboxFailure,
} from '@activity-core/db';
import { contextFromTraceparent, type Logger } from '@activity-core/runtime';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import { wakeableSleep } from './wakeable-sleep.ts';

export interface OutboxRelayOptions {
  readonly db: Kysely<Database>;
  readonly js: JetStreamClient;
  readonly logger: Logger;
  /** Rows claimed per round. */
  readonly batchSize?: number;
  /** How long a claim hides rows from other relays (a relay that dies loses them after this). */
  readonly leaseMs?: number;
  /** Idle poll interval; `notify()` wakes the relay earlier. */
  readonly pollIntervalMs?: number;
  /**
   * Backoff of a row whose publish failed (and of a failed round): the ceiling starts here and
   * doubles per attempt up to `maxDelayMs`; each delay is jittered between half of it and all.
   */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Per-publish timeout (JetStream ack). */
  readonly publishTimeoutMs?: number;
  readonly metrics?: Registry;
  /**
   * Tracing on: each publish is a PRODUCER span under the row's `traceparent` header (the span
   * of the task change that wrote the row). The header goes out with the message as written.
   */
  readonly tracer?: Tracer;
}

/** A row as its writer committed it: what the relay needs to publish it without reading it back. */
export type CommittedOutboxRow = Pick<OutboxRecord, 'id' | 'subject' | 'headers' | 'body'>;

export interface OutboxRelay {
  /** Wake the relay now (rows were just written). */
  notify(): void;
  /**
   * Publish rows just committed, each the first row of its order key (a new task's
   * `tasks.created`), at once: no claim round trip, then mark them. A row whose publish fails
   * (or whose mark does) stays for the claim path, which the relay is woken to run.
   */
  publishCommitted(rows: readonly CommittedOutboxRow[]): void;
  /** Finish the current round and stop. */
  stop(): Promise<void>;
}

/**
 * Publishes pending outbox rows to JetStream with `Nats-Msg-Id` = row id (JetStream drops a
 * repeat within the stream's duplicate window), marks them published, and reschedules failures
 * with a jittered exponential backoff. Several relays may run at once: claims use `SKIP LOCKED` leases.
 * A claimed batch is published at once, in claim order; a task's events keep their order because
 * a claim never holds two unpublished rows of one task.
 *
 * Rows its own process just committed can skip the claim (`publishCommitted`): only a row with
 * no earlier unpublished row of its key may, so no later row of that key is claimed before it
 * is marked. Such a row is not leased, so a claim that runs meanwhile (this relay's poll,
 * another replica's) may publish it too; JetStream drops the second copy by its `Nats-Msg-Id`
 * (the tasks stream's duplicate window, 2 minutes, is far longer than a publish's timeout),
 * and the mark only sets rows that are still unpublished.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const batchSize = options.batchSize ?? 100;
  const leaseMs = options.leaseMs ?? 30_000;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const rowBackoff = { baseMs: options.baseDelayMs ?? 1_000, maxMs: options.maxDelayMs ?? 60_000, floor: 0.5 };
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const registers = options.metrics ? [options.metrics] : [];
  const published = new Counter({
    name: 'ac_outbox_published_total',
    help: 'Outbox rows published to JetStream (including ones JetStream reported as duplicates)',
    registers,
  });
  const failed = new Counter({ name: 'ac_outbox_publish_failures_total', help: 'Failed outbox publishes', registers });

  let stopped = false;
  const { sleep, wake, clear } = wakeableSleep();

  const send = async (row: CommittedOutboxRow): Promise<void> => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(row.headers)) h.set(k, v);
    const ack = await options.js.publish(row.subject, JSON.stringify(row.body), {
      msgID: row.id,
      headers: h,
      timeout: publishTimeoutMs,
    });
    if (ack.duplicate) options.logger.debug('outbox row was already in the stream', { id: row.id });
  };
  const tracer = options.tracer;
  const publish = !tracer
    ? send
    : async (row: CommittedOutboxRow): Promise<void> => {
        const span = tracer.startSpan(
          `publish ${row.subject}`,
          {
            kind: SpanKind.PRODUCER,
            attributes: {
              'messaging.system': 'nats',
              'messaging.operation.type': 'send',
              'messaging.destination.name': row.subject,
              'messaging.message.id': row.id,
            },
          },
          contextFromTraceparent(row.headers.traceparent, row.headers.tracestate),
        );
        try {
          await send(row);
        } catch (error) {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: error instanceof Error ? error.message : String(error),
          });
          throw error;
        } finally {
          span.end();
        }
      };

  const claim = prepareOutboxClaim(options.db, { limit: batchSize, leaseMs });
  const round = async (): Promise<number> => {
    // In write order (`seq`): the claim sorts what UPDATE … RETURNING gives back unordered.
    const rows = await claim();
    // Unpublished rows of a stopped round come back after their lease.
    if (stopped || rows.length === 0) return rows.length;
    // A claim holds at most one row per order key (a row waits while an earlier row of its key
    // is unpublished), so the batch goes out at once and its acks are awaited together: the
    // publishes leave on the one connection in claim order, and a failed row holds back only
    // its own key's later rows, which the next claims leave until it is published.
    const outcomes = await Promise.allSettled(rows.map((row) => publish(row)));
    const done = rows.filter((_, i) => outcomes[i]?.status === 'fulfilled').map((row) => row.id);
    await markOutboxPublished(options.db, done);
    published.inc(done.length);
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      const row = rows[i] as OutboxRecord;
      failed.inc();
      const error = outcome.reason as unknown;
      const message = error instanceof Error ? error.message : String(error);
      options.logger.warn('outbox publish failed; will retry', { id: row.id, subject: row.subject, error: message });
      await recordOutboxFailure(options.db, {
        id: row.id,
        error: message,
        retryInMs: jitteredBackoffMs(row.attempts, rowBackoff),
      });
    }
    return rows.length;
  };

  const loop = (async () => {
    let failedRounds = 0;
    while (!stopped) {
      try {
        clear();
        const claimed = await round();
        failedRounds = 0;
        if (claimed < batchSize) await sleep(pollIntervalMs);
      } catch (error) {
        // Database or NATS unavailable: back off, keep going.
        failedRounds++;
        const retryInMs = jitteredBackoffMs(failedRounds, rowBackoff);
        options.logger.warn('outbox relay round failed', {
          error: error instanceof Error ? error.message : String(error),
          retryInMs,
        });
        await sleep(retryInMs);
      }
    }
  })();

  /** Direct publishes in flight: `stop()` waits for them as for the loop's round. */
  const direct = new Set<Promise<void>>();
  const publishDirect = async (rows: readonly CommittedOutboxRow[]): Promise<void> => {
    const outcomes = await Promise.allSettled(rows.map((row) => publish(row)));
    const done = rows.filter((_, i) => outcomes[i]?.status === 'fulfilled').map((row) => row.id);
    const refused = outcomes.filter((o) => o.status === 'rejected').length;
    try {
      await markOutboxPublished(options.db, done);
      published.inc(done.length);
    } catch (error) {
      // Published but not marked: the claim path publishes them again and JetStream drops the copies.
      options.logger.warn('outbox mark failed after a direct publish; the rows go through a claim', {
        rows: done.length,
        error: error instanceof Error ? error.message : String(error),
      });
      wake();
    }
    if (refused > 0) {
      failed.inc(refused);
      const reason = outcomes.find((o) => o.status === 'rejected')?.reason as unknown;
      options.logger.warn('outbox publish failed; the row goes through a claim', {
        rows: refused,
        error: reason instanceof Error ? reason.message : String(reason),
      });
      wake();
    }
  };

  return {
    notify() {
      wake();
    },
    publishCommitted(rows) {
      // A stopping relay leaves them to the next claim, by whichever relay runs then.
      if (stopped || rows.length === 0) return;
      const p = publishDirect(rows).finally(() => direct.delete(p));
      direct.add(p);
    },
    async stop() {
      stopped = true;
      wake();
      await loop;
      await Promise.allSettled([...direct]);
    },
  };
}
