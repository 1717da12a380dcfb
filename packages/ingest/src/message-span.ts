// The ingest span of one message: its parent is the event's W3C `traceparent` (CloudEvents
// distributed tracing: the structured attribute, the binary `ce-traceparent` header or a plain
// `traceparent` header, all normalized onto the envelope), and the Temporal client's
// StartWorkflow / SignalWithStartWorkflow spans are its children, so the run workflow carries
// the inbound trace on. Without a tracer every method is a no-op and no OTel code runs.
import { type EventEnvelope, eventKey } from '@activity-core/core';
import { contextFromTraceparent } from '@activity-core/runtime';
import type { JsMsg } from '@nats-io/jetstream';
import { type Context, context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { MessageOutcome } from './message-decision.ts';

export interface MessageSpan {
  /** The message normalized: opens the span (started at arrival) under the event's traceparent. */
  normalized(envelope: EventEnvelope): void;
  /** Records a span event (e.g. the match result). */
  event(name: string, attributes?: Record<string, string | number>): void;
  /** Runs `fn` with the span active, so the Temporal client interceptor's spans are its children. */
  within<T>(fn: () => Promise<T>): Promise<T>;
  /** Ends the span with the message's outcome (opens a root span first if the message never normalized). */
  end(outcome: MessageOutcome): void;
}

const NOOP: MessageSpan = {
  normalized: () => undefined,
  event: () => undefined,
  within: (fn) => fn(),
  end: () => undefined,
};

/** A span per message when `tracer` is given, a shared no-op otherwise. */
export function messageSpan(tracer: Tracer | undefined, message: JsMsg): MessageSpan {
  if (tracer === undefined) return NOOP;
  return new TracedMessage(tracer, message);
}

class TracedMessage implements MessageSpan {
  readonly #tracer: Tracer;
  readonly #message: JsMsg;
  readonly #arrived = new Date();
  #span: Span | undefined;
  #context: Context | undefined;

  constructor(tracer: Tracer, message: JsMsg) {
    this.#tracer = tracer;
    this.#message = message;
  }

  #open(parent: Context, attributes: Record<string, string | number>): Span {
    const span = this.#tracer.startSpan(
      `process ${this.#message.subject}`,
      {
        kind: SpanKind.CONSUMER,
        startTime: this.#arrived,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.destination.name': this.#message.subject,
          'messaging.nats.stream': this.#message.info.stream,
          'messaging.nats.stream_sequence': this.#message.seq,
          'messaging.nats.delivery_count': this.#message.info.deliveryCount,
          ...attributes,
        },
      },
      parent,
    );
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
    return span;
  }

  normalized(envelope: EventEnvelope): void {
    const span = this.#open(contextFromTraceparent(envelope.traceparent, envelope.tracestate), {
      'messaging.message.id': envelope.id,
      'cloudevents.event_id': envelope.id,
      'cloudevents.event_source': envelope.source,
      'cloudevents.event_type': envelope.type,
      'activity_core.event_key': eventKey(envelope),
    });
    span.addEvent('normalized');
  }

  event(name: string, attributes?: Record<string, string | number>): void {
    this.#span?.addEvent(name, attributes);
  }

  within<T>(fn: () => Promise<T>): Promise<T> {
    return this.#context ? context.with(this.#context, fn) : fn();
  }

  end(outcome: MessageOutcome): void {
    const span = this.#span ?? this.#open(context.active(), {});
    span.setAttribute('activity_core.ingest.outcome', outcome.kind);
    switch (outcome.kind) {
      case 'invalid':
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${outcome.code}: ${outcome.message}` });
        break;
      case 'start_failed':
      case 'start_rejected':
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.kind });
        break;
      default:
        break;
    }
    span.end();
  }
}
