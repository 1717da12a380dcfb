// The second consumer of ingest: JetStream's MAX_DELIVERIES advisories. A message the server
// stopped redelivering (`max_deliver` reached, e.g. after crashes) is announced by one; ingest
// copies the stored message to the DLQ and only then deletes it from the events stream.
import { jitteredBackoffMs } from '@activity-core/core';
import { isAlreadyExists, isNoMessageFound, type Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import { AckPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { publishDeadLetter } from './dead-letter.ts';
import type { IngestMetrics } from './metrics.ts';

export interface MaxDeliveriesDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** The server's max_payload, as the connection was told. */
  readonly maxPayload: () => number;
}

export interface MaxDeliveriesConsumer {
  /** Stops reading advisories and waits for the one being handled. */
  stop(): Promise<void>;
}

/** What an advisory says, or why it is unusable (it is then terminated: redelivery cannot mend it). */
export type MaxDeliveriesAdvisory =
  | { readonly ok: true; readonly seq: number; readonly deliveries: number }
  | { readonly ok: false; readonly reason: 'unreadable' | 'no stream_seq'; readonly error?: unknown };

/** Reads a MAX_DELIVERIES advisory: the stream sequence of the exhausted message and its deliveries. */
export function readMaxDeliveriesAdvisory(advisory: Pick<JsMsg, 'json'>): MaxDeliveriesAdvisory {
  let seq: unknown;
  let deliveries = 0;
  try {
    const body = advisory.json<{ stream_seq?: number; deliveries?: number }>();
    seq = body.stream_seq;
    deliveries = body.deliveries ?? 0;
  } catch (error) {
    return { ok: false, reason: 'unreadable', error };
  }
  if (typeof seq !== 'number') return { ok: false, reason: 'no stream_seq' };
  return { ok: true, seq, deliveries };
}

/** The durable consumer name on the advisories stream for the ingest consumer `consumer`. */
export function advisoriesConsumerName(consumer: string): string {
  return `${consumer}-advisories`;
}

/**
 * Dead-letters messages that ran out of deliveries. Their advisories are captured by the
 * advisories stream and read through a durable consumer shared by all replicas, so one that
 * fired while ingest was down is handled when it comes back; an advisory is acked only after
 * its message is in the DLQ, and retried later otherwise.
 */
export async function startMaxDeliveriesConsumer(
  deps: MaxDeliveriesDeps,
  options: { readonly consumer: string },
): Promise<MaxDeliveriesConsumer> {
  const { js, jsm, topology, logger } = deps;
  const durable = advisoriesConsumerName(options.consumer);
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(60_000),
    filter_subject: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${topology.events.stream}.${options.consumer}`,
  };
  await jsm.consumers.add(topology.advisories.stream, config).catch(async (error: unknown) => {
    if (!isAlreadyExists(error)) throw error;
  });
  const consumer = await js.consumers.get(topology.advisories.stream, durable);
  const messages = await consumer.consume({ max_messages: 16 });
  const loop = (async () => {
    for await (const advisory of messages) {
      const read = readMaxDeliveriesAdvisory(advisory);
      if (!read.ok) {
        if (read.reason === 'unreadable') {
          logger.warn('unreadable max-deliveries advisory; dropping it', { error: read.error });
        }
        advisory.term(read.reason);
        continue;
      }
      if (await deadLetterStored(deps, read.seq, read.deliveries)) advisory.ack();
      else advisory.nak(30_000);
    }
  })();
  return {
    async stop() {
      messages.stop();
      await loop;
    },
  };
}

/** Copies a message that ran out of deliveries from the events stream to the DLQ, then deletes it. */
async function deadLetterStored(deps: MaxDeliveriesDeps, seq: number, deliveries: number): Promise<boolean> {
  const { js, jsm, topology, logger, metrics } = deps;
  const stream = topology.events.stream;
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const stored = await jsm.streams.getMessage(stream, { seq });
      if (!stored) return true; // Another replica handled it already.
      const letter = await publishDeadLetter(
        js,
        topology,
        {
          subject: stored.subject,
          data: stored.data,
          headers: stored.header,
          stream,
          streamSeq: seq,
          deliveryCount: deliveries,
          reason: 'max_deliveries',
          message: `not processed after ${deliveries} deliveries`,
        },
        deps.maxPayload(),
      );
      metrics.rejected.inc({ reason: 'max_deliveries' });
      metrics.deadLetters.inc({ reason: 'max_deliveries' });
      // A dead letter stored by reference needs the original where it is.
      if (!letter.bodyOmitted) {
        await jsm.streams.deleteMessage(stream, seq).catch((error: unknown) => {
          if (!isNoMessageFound(error)) throw error;
        });
      }
      logger.info('message dead-lettered after max deliveries', { seq, deliveries });
      return true;
    } catch (error) {
      logger.warn('cannot dead-letter a message that ran out of deliveries; retrying', { seq, attempt, error });
      await new Promise((resolve) => setTimeout(resolve, jitteredBackoffMs(attempt, { baseMs: 500, maxMs: 10_000 })));
    }
  }
  logger.error('cannot dead-letter a message yet; its advisory will come back', { seq, stream });
  return false;
}
