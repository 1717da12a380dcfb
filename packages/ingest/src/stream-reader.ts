import { DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface StreamReadOptions {
  readonly stream: string;
  /** NATS subject filter (wildcards allowed). */
  readonly filter: string;
  /** Start at this sequence (inclusive)… */
  readonly startSeq?: number;
  /** …or at the first message stored at or after this instant; neither: the first message. */
  readonly startTime?: Date;
  /** Stop after this sequence. Default: the stream's last sequence when the read starts. */
  readonly stopSeq?: number;
  /** Messages pulled per request (default 256). */
  readonly batch?: number;
}

/**
 * Reads a stream in sequence order through an ordered consumer: ephemeral, unacknowledged and
 * deleted at the end, so no durable consumer (ingest's `ac-ingest` above all) and no message
 * changes state. Stops at `stopSeq` (by default the last message stored when the read began, so
 * messages written meanwhile, e.g. by a redrive of the same stream, are not read) or when no
 * more messages match. Breaking out of the loop ends the read.
 *
 * @example
 * for await (const m of readStream(nc, { stream: 'AC_EVENTS', filter: 'events.order.>', startTime })) …
 */
export async function* readStream(nc: NatsConnection, options: StreamReadOptions): AsyncGenerator<JsMsg> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(options.stream);
  const stopSeq = Math.min(options.stopSeq ?? info.state.last_seq, info.state.last_seq);
  if (info.state.messages === 0 || stopSeq < Math.max(options.startSeq ?? 0, info.state.first_seq)) return;
  const start =
    options.startSeq !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, options.startSeq) }
      : options.startTime !== undefined
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.startTime.toISOString() }
        : { deliver_policy: DeliverPolicy.All };
  const reader = await jetstream(nc).consumers.get(options.stream, { filter_subjects: [options.filter], ...start });
  try {
    for (;;) {
      const batch = await reader.fetch({ max_messages: options.batch ?? 256, expires: 1_000 });
      let received = 0;
      for await (const message of batch) {
        received++;
        if (message.seq > stopSeq) return;
        yield message;
        if (message.info.pending === 0 || message.seq === stopSeq) return;
      }
      if (received === 0) return;
    }
  } finally {
    await reader.delete().catch(() => {});
  }
}
