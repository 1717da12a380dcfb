import { EventEnvelope } from '@activity-core/core';
import { topology } from '@activity-core/messaging';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';

/** A CloudEvent as a producer writes it (`specversion` '1.0', `id`, `source`, `type`, optional `data`…). */
export type CloudEventInput = z.input<typeof PublishableEvent>;

const PublishableEvent = EventEnvelope.omit({ delivery: true });

/** The event was not a valid CloudEvent; `issues` name each field. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  constructor(issues: ReadonlyArray<{ path: string; message: string }>) {
    super(`invalid CloudEvent: ${issues.map((i) => `${i.path || '(event)'}: ${i.message}`).join('; ')}`);
    this.issues = issues;
  }
}

export interface EventPublisherOptions {
  /** Connect to this NATS URL (closed by `close()`)… */
  readonly natsUrl?: string;
  /** …or use this connection (left open by `close()`). */
  readonly nc?: NatsConnection;
  /** Topology prefix of the installation (`AC_STREAM_PREFIX`); default none: `events.<type>` on `AC_EVENTS`. */
  readonly prefix?: string;
}

export interface PublishResult {
  readonly subject: string;
  readonly stream: string;
  readonly seq: number;
  /** True when JetStream had seen this event id within its duplicate window and dropped it. */
  readonly duplicate: boolean;
}

export interface EventPublisher {
  /** Validates and publishes one event on `events.<type>`, with `Nats-Msg-Id` = its `id`. */
  publish(event: CloudEventInput): Promise<PublishResult>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Publishes CloudEvents (structured JSON mode) to activity-core's inbound stream. Each event is
 * validated first; its `id` is the JetStream de-duplication id, so publishing the same event
 * twice (a retry) stores it once.
 *
 * @example
 * const events = await createEventPublisher({ natsUrl: 'nats://127.0.0.1:4222' });
 * await events.publish({ specversion: '1.0', id: 'order-1', source: 'urn:shop', type: 'order.created', data: { total: 42 } });
 */
export async function createEventPublisher(options: EventPublisherOptions): Promise<EventPublisher> {
  if (!options.nc && !options.natsUrl) throw new TypeError('createEventPublisher needs natsUrl or nc');
  const owned = !options.nc;
  const nc = options.nc ?? (await connect({ servers: (options.natsUrl as string).split(',') }));
  const js = jetstream(nc);
  const subjectPrefix = topology(options.prefix ?? '').events.subjectPrefix;
  return {
    async publish(event) {
      const parsed = PublishableEvent.safeParse(event);
      if (!parsed.success) {
        throw new InvalidEventError(
          parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
        );
      }
      const tokens = parsed.data.type.split('.');
      if (tokens.some((t) => t === '*' || t === '>' || !TOKEN.test(t))) {
        throw new InvalidEventError([
          { path: 'type', message: 'expected dot-separated tokens of printable ASCII, no spaces, "*" or ">"' },
        ]);
      }
      const subject = `${subjectPrefix}${parsed.data.type}`;
      const h = headers();
      h.set('content-type', 'application/cloudevents+json');
      const ack = await js.publish(subject, encoder.encode(JSON.stringify(parsed.data)), {
        msgID: parsed.data.id,
        headers: h,
      });
      return { subject, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    },
    async close() {
      if (owned) await nc.drain();
    },
  };
}
