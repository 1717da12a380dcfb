import type { Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { type DeadLetterReason, publishDeadLetter } from './dead-letter.ts';
import type { IngestMetrics } from './metrics.ts';

export interface DeadLetteringDeps {
  readonly js: JetStreamClient;
  readonly topology: Topology;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** The server's max_payload, as the connection was told (bodies that do not fit go by reference). */
  readonly maxPayload: () => number;
}

export interface DeadLetterCause {
  readonly reason: DeadLetterReason;
  readonly message: string;
  readonly field?: string | undefined;
  /** Keys of the definitions the dead letter is about (`filter_error`, `window_key`). */
  readonly definitions?: readonly string[];
}

/** Parks delivered messages in the DLQ stream. */
export interface DeadLettering {
  /**
   * Stores the dead letter and, only once the DLQ stream acknowledged it, terminates the
   * original. Resolves false when the store failed: the message is untouched, and the caller
   * hands it back for a redelivery.
   */
  park(message: JsMsg, cause: DeadLetterCause): Promise<boolean>;
  /**
   * Stores a copy of the message in the DLQ and leaves the original alone: the caller acks it
   * (a `filter_error` or `window_key` copy: the event was processed for every other definition). Resolves false
   * when the store failed.
   */
  copy(message: JsMsg, cause: DeadLetterCause): Promise<boolean>;
}

export function createDeadLettering(deps: DeadLetteringDeps): DeadLettering {
  const { js, topology, logger, metrics } = deps;
  /** Publishes a dead letter of `message` to the DLQ stream; throws when it is not stored. */
  const store = (message: JsMsg, { reason, message: text, field, definitions }: DeadLetterCause) =>
    publishDeadLetter(
      js,
      topology,
      {
        subject: message.subject,
        data: message.data,
        headers: message.headers,
        stream: message.info.stream,
        streamSeq: message.seq,
        deliveryCount: message.info.deliveryCount,
        reason,
        message: text,
        field,
        ...(definitions ? { definitions } : {}),
      },
      deps.maxPayload(),
    );
  return {
    async park(message, cause) {
      const { reason, message: text } = cause;
      metrics.rejected.inc({ reason });
      try {
        // A body stored by reference stays readable: `term` leaves the message in the events
        // stream until its max age.
        await store(message, cause);
      } catch (error) {
        logger.warn('dead letter not stored; the message will be redelivered', { seq: message.seq, reason, error });
        return false;
      }
      metrics.deadLetters.inc({ reason });
      logger.info('message dead-lettered', { seq: message.seq, subject: message.subject, reason, detail: text });
      message.term(reason);
      return true;
    },
    async copy(message, cause) {
      const { reason } = cause;
      try {
        await store(message, cause);
      } catch (error) {
        logger.warn('dead letter copy not stored; the message will be redelivered', {
          seq: message.seq,
          reason,
          error,
        });
        return false;
      }
      metrics.deadLetters.inc({ reason });
      return true;
    },
  };
}
