import { NormalizeErrorCode } from '@activity-core/core';
import { publishRetrying, type Topology } from '@activity-core/messaging';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { copyUserHeaders, DlqHeader, headerOf, headerValue } from './headers.ts';

/**
 * Why a message was dead-lettered: a normalization error code, or one of ingest's own:
 * `max_depth` (causation depth reached), `max_deliveries` (redelivered `max_deliver` times),
 * `start_rejected` (Temporal refused the run's start or the window's signal for good, e.g. its
 * input over the payload limit), `filter_error`, `window_key`. The last two are copies, not
 * removals ({@link DeadLetterCopyReason}): the event was processed for every other definition and
 * is parked for the definitions named in `Ac-Dlq-Definition`, whose filter failed on it
 * (`filter_error`) or which matched it but could not key it (`window_key`).
 */
export type DeadLetterReason =
  | NormalizeErrorCode
  | 'max_depth'
  | 'max_deliveries'
  | 'start_rejected'
  | DeadLetterCopyReason;

/** Ingest's own reasons, as a record so that a reason added to the type must be added here. */
const OWN_REASONS = {
  max_depth: true,
  max_deliveries: true,
  start_rejected: true,
  filter_error: true,
  window_key: true,
} as const satisfies Record<Exclude<DeadLetterReason, NormalizeErrorCode>, true>;

/** Every dead-letter reason (metrics start each at 0, so the first one of a reason shows in `increase()`). */
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  ...Object.values(NormalizeErrorCode),
  ...(Object.keys(OWN_REASONS) as Array<keyof typeof OWN_REASONS>),
];

/** Reasons stored as a copy beside the processed original, each under its own message id. */
export type DeadLetterCopyReason = 'filter_error' | 'window_key';
const COPY_REASONS: ReadonlySet<DeadLetterReason> = new Set<DeadLetterCopyReason>(['filter_error', 'window_key']);

export interface DeadLetter {
  /** The subject the message arrived on (`events.…`). */
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  readonly stream: string;
  readonly streamSeq: number;
  readonly deliveryCount: number;
  readonly reason: DeadLetterReason;
  readonly message: string;
  readonly field?: string | undefined;
  /** Keys of the definitions the dead letter is about (`filter_error`, `window_key`). */
  readonly definitions?: readonly string[];
}

/** `events.order.created` → `dlq.events.order.created` (under the topology's prefix). */
export function deadLetterSubject(t: Topology, subject: string): string {
  const rest = subject.startsWith(t.events.subjectPrefix) ? subject.slice(t.events.subjectPrefix.length) : subject;
  return `${t.dlq.subjectPrefix}${rest}`;
}

/** `dlq.events.order.created` → `events.order.created`; the inverse of {@link deadLetterSubject}. */
export function originalSubject(t: Topology, dlqSubject: string): string {
  const rest = dlqSubject.startsWith(t.dlq.subjectPrefix) ? dlqSubject.slice(t.dlq.subjectPrefix.length) : dlqSubject;
  return `${t.events.subjectPrefix}${rest}`;
}

/** The dead letter's headers: the original application headers plus the `Ac-Dlq-*` set. */
export function deadLetterHeaders(letter: DeadLetter, now = new Date()): MsgHdrs {
  const hdrs = copyUserHeaders(letter.headers);
  hdrs.set(DlqHeader.reason, letter.reason);
  hdrs.set(DlqHeader.message, headerValue(letter.message));
  if (letter.field !== undefined) hdrs.set(DlqHeader.field, headerValue(letter.field, 256));
  for (const key of letter.definitions ?? []) hdrs.append(DlqHeader.definition, key);
  hdrs.set(DlqHeader.subject, letter.subject);
  hdrs.set(DlqHeader.stream, letter.stream);
  hdrs.set(DlqHeader.streamSeq, String(letter.streamSeq));
  hdrs.set(DlqHeader.deliveryCount, String(letter.deliveryCount));
  const msgId = headerOf(letter.headers, 'Nats-Msg-Id');
  if (msgId !== undefined) hdrs.set(DlqHeader.msgId, msgId);
  hdrs.set(DlqHeader.time, now.toISOString());
  return hdrs;
}

/** Room kept for the protocol's own framing beside the headers and body. */
const FRAMING_BYTES = 512;

function headerBytes(hdrs: MsgHdrs): number {
  let n = 0;
  for (const [key, values] of hdrs) for (const value of values) n += key.length + value.length + 4;
  return n;
}

export interface StoredDeadLetter {
  readonly ack: PubAck;
  /**
   * True when the body did not fit under the server's `max_payload` beside the DLQ headers and
   * was left out ({@link DlqHeader.bodyOmitted}): the original must then stay in the events
   * stream, where redrive reads it.
   */
  readonly bodyOmitted: boolean;
}

/**
 * Stores a dead letter in the DLQ stream. The message id `dlq:{stream sequence}` makes a
 * retried store (after a lost PubAck, or from two replicas handling the same max-deliveries
 * advisory) a no-op within the duplicate window. A body too large to travel with the DLQ
 * headers (`maxPayload` is the server's limit) is stored by reference instead of failing the
 * store forever.
 */
export async function publishDeadLetter(
  js: JetStreamClient,
  t: Topology,
  letter: DeadLetter,
  maxPayload = Number.POSITIVE_INFINITY,
): Promise<StoredDeadLetter> {
  const headers = deadLetterHeaders(letter);
  const bodyOmitted = letter.data.length + headerBytes(headers) + FRAMING_BYTES > maxPayload;
  if (bodyOmitted) headers.set(DlqHeader.bodyOmitted, String(letter.data.length));
  const ack = await publishRetrying(
    js,
    deadLetterSubject(t, letter.subject),
    bodyOmitted ? new Uint8Array(0) : letter.data,
    {
      headers,
      // A copy, another reason's copy and a later dead letter of the same message are different letters.
      msgID: COPY_REASONS.has(letter.reason) ? `dlq:${letter.streamSeq}:${letter.reason}` : `dlq:${letter.streamSeq}`,
      expect: { streamName: t.dlq.stream },
    },
  );
  return { ack, bodyOmitted };
}
