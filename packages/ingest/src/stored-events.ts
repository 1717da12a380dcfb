import type { RawMessage } from '@activity-core/core';
import type { Topology } from '@activity-core/messaging';
import type { NatsConnection } from '@nats-io/transport-node';
import { toRawMessage } from './raw-message.ts';
import { readStream } from './stream-reader.ts';

export interface StoredEventsOptions {
  /** Messages stored at or after this instant… */
  readonly from: Date;
  /** …and at or before this one. */
  readonly to: Date;
  /** Subject filter (`events.order.>`, or `order.>` without the events prefix). Default: all events. */
  readonly subject?: string;
  /** Continue after this stream sequence (a previous read's last) instead of starting at `from`. */
  readonly afterSeq?: number;
}

export interface StoredEvent {
  readonly seq: number;
  readonly time: Date;
  /** What ingest's normalization takes, with a redriven message's original identity restored. */
  readonly message: RawMessage;
}

/** `order.>` → `events.order.>`; a subject that already has the events prefix stays. */
export function eventsSubject(t: Topology, subject: string | undefined): string {
  if (!subject) return t.events.subjects[0] as string;
  return subject.startsWith(t.events.subjectPrefix) ? subject : `${t.events.subjectPrefix}${subject}`;
}

/**
 * The events stored in `AC_EVENTS` in a time window, in stream order, read the way ingest reads
 * them (same raw view, see `toRawMessage`) but through an ephemeral ordered consumer: nothing is
 * acknowledged and no consumer state changes. The caller bounds the read by breaking out.
 */
export async function* readStoredEvents(
  deps: { readonly nc: NatsConnection; readonly topology: Topology },
  options: StoredEventsOptions,
): AsyncGenerator<StoredEvent> {
  const stream = deps.topology.events.stream;
  const messages = readStream(deps.nc, {
    stream,
    filter: eventsSubject(deps.topology, options.subject),
    ...(options.afterSeq !== undefined ? { startSeq: options.afterSeq + 1 } : { startTime: options.from }),
  });
  for await (const m of messages) {
    if (m.time > options.to) return;
    if (m.time < options.from) continue;
    yield { seq: m.seq, time: m.time, message: toRawMessage(m) };
  }
}
