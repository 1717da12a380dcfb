import { isAlreadyExists, retryingSetup, type Topology } from '@activity-core/messaging';
import { AckPolicy, type ConsumerConfig, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

export interface IngestConsumerSettings {
  /** Durable name; the contract's `ac-ingest` unless overridden. */
  readonly name: string;
  /** Wait for an ack before the first redelivery (also the first backoff step). */
  readonly ackWaitMs: number;
  /** Deliveries before the server gives up; ingest then dead-letters with `max_deliveries`. */
  readonly maxDeliver: number;
  /** Cap of the redelivery backoff (ack timeouts only: backoff does not apply to nak). */
  readonly maxBackoffMs: number;
  /** Unacked messages across all replicas. */
  readonly maxAckPending: number;
  /** Copies of the consumer's state in a cluster (AC_STREAM_REPLICAS); 0 or unset = the stream's. */
  readonly replicas?: number;
}

/** `ackWait × 1, 2, 4, …` capped, one step per redelivery, at most `maxDeliver - 1` steps. */
export function redeliveryBackoffMs(
  s: Pick<IngestConsumerSettings, 'ackWaitMs' | 'maxDeliver' | 'maxBackoffMs'>,
): number[] {
  const steps = Math.max(1, Math.min(s.maxDeliver - 1, 6));
  return Array.from({ length: steps }, (_, i) => Math.min(s.ackWaitMs * 2 ** i, Math.max(s.maxBackoffMs, s.ackWaitMs)));
}

export function ingestConsumerConfig(s: IngestConsumerSettings): Partial<ConsumerConfig> & { durable_name: string } {
  const backoff = redeliveryBackoffMs(s);
  return {
    durable_name: s.name,
    description: 'activity-core ingest: events to RunActivityWorkflow starts',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // With backoff set the server uses it instead of ack_wait; keep both consistent.
    ack_wait: nanos(backoff[0] ?? s.ackWaitMs),
    backoff: backoff.map((ms) => nanos(ms)),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
    ...(s.replicas ? { num_replicas: s.replicas } : {}),
  };
}

/**
 * Creates the durable pull consumer on the events stream, or updates it to the wanted
 * limits. Safe from several replicas at once: a lost creation race becomes an update.
 */
export async function ensureIngestConsumer(
  jsm: JetStreamManager,
  t: Topology,
  s: IngestConsumerSettings,
): Promise<void> {
  const config = ingestConsumerConfig(s);
  const { durable_name: _name, deliver_policy: _deliver, ack_policy: _ack, ...updatable } = config;
  // A cluster still electing answers with timeouts and missing leaders for a while.
  await retryingSetup(async () => {
    const exists = await jsm.consumers.info(t.events.stream, s.name).then(
      () => true,
      () => false,
    );
    if (exists) {
      await jsm.consumers.update(t.events.stream, s.name, updatable);
      return;
    }
    try {
      await jsm.consumers.add(t.events.stream, config);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      await jsm.consumers.update(t.events.stream, s.name, updatable);
    }
  });
}
