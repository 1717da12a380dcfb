import type { Topology } from '@activity-core/messaging';
import { type JetStreamManager, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as createHeaders, type NatsConnection } from '@nats-io/transport-node';
import { deadLetterSubject, originalSubject } from './dead-letter.ts';
import { copyUserHeaders, DlqHeader, headerOf, IdentityHeader } from './headers.ts';
import { eventsSubject } from './stored-events.ts';
import { readStream } from './stream-reader.ts';

export interface RedriveDeps {
  readonly nc: NatsConnection;
  readonly topology: Topology;
}

export interface RedriveOptions {
  /** Only dead letters with this `Ac-Dlq-Reason` (e.g. `max_depth`, `invalid_json`). */
  readonly reason?: string;
  /**
   * Only dead letters whose original subject matches this NATS subject (wildcards `*`/`>`
   * allowed), written with or without the events prefix: `events.order.>` or `order.>`.
   */
  readonly subject?: string;
  /** At most this many are moved (default 1000). */
  readonly limit?: number;
  /** Only dead letters at or after this DLQ sequence… */
  readonly fromSeq?: number;
  /** …and at or before this one (e.g. the batches of a redrive with progress). */
  readonly toSeq?: number;
}

export interface RedriveResult {
  /** Dead letters looked at (that matched the subject filter). */
  readonly scanned: number;
  /** Republished to the events stream and removed from the DLQ. */
  readonly redriven: number;
  /** Republish or removal failed; the dead letter stays in the DLQ (a removal failure may leave a copy in both). */
  readonly failed: ReadonlyArray<{ readonly seq: number; readonly error: string }>;
}

export const DEFAULT_REDRIVE_LIMIT = 1000;

/**
 * Moves dead letters back to the events stream: each goes out on its original subject with
 * its original bytes and headers, and is deleted from the DLQ only after the events stream
 * acknowledged the republish.
 *
 * Identity is kept, so a redriven event cannot start a second run: CloudEvents carry their
 * `source` + `id` in the body or `ce-*` headers; for plain JSON (whose id derives from
 * `Nats-Msg-Id` or the stream sequence) redrive records the first delivery's identity in
 * `Ac-Original-*` headers, which ingest reads in place of the new delivery's. The republish
 * has its own `Nats-Msg-Id` (`redrive:{dlq stream}:{dlq seq}`), so a retried redrive is
 * de-duplicated while the original id cannot make JetStream drop it.
 *
 * Stops at the DLQ's last message at the time of the call, so letters that fail again during
 * the redrive are not picked up twice.
 *
 * @example
 * const { redriven } = await redriveDeadLetters({ nc, topology: topology() }, { reason: 'max_depth', limit: 10 });
 */
export async function redriveDeadLetters(deps: RedriveDeps, options: RedriveOptions = {}): Promise<RedriveResult> {
  const { nc, topology: t } = deps;
  const limit = options.limit ?? DEFAULT_REDRIVE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = t.dlq.stream;
  const failed: Array<{ seq: number; error: string }> = [];
  let scanned = 0;
  let redriven = 0;
  const letters = readStream(nc, {
    stream,
    filter: deadLetterFilter(t, options.subject),
    ...(options.fromSeq !== undefined ? { startSeq: options.fromSeq } : {}),
    ...(options.toSeq !== undefined ? { stopSeq: options.toSeq } : {}),
  });
  for await (const letter of letters) {
    scanned++;
    const reason = headerOf(letter.headers, DlqHeader.reason);
    if (options.reason === undefined || reason === options.reason) {
      const subject = headerOf(letter.headers, DlqHeader.subject) ?? originalSubject(t, letter.subject);
      try {
        const body = await bodyOf(jsm, letter);
        await js.publish(subject, body, {
          headers: redriveHeaders(letter.headers),
          msgID: `redrive:${stream}:${letter.seq}`,
          expect: { streamName: t.events.stream },
        });
        await jsm.streams.deleteMessage(stream, letter.seq);
        redriven++;
      } catch (error) {
        failed.push({ seq: letter.seq, error: error instanceof Error ? error.message : String(error) });
      }
    }
    if (redriven >= limit) break;
  }
  return { scanned, redriven, failed };
}

/** The DLQ subject filter for an original-subject filter (`order.>` or `events.order.>`); all when absent. */
export function deadLetterFilter(t: Topology, subject: string | undefined): string {
  return subject ? deadLetterSubject(t, eventsSubject(t, subject)) : (t.dlq.subjects[0] as string);
}

/** The dead letter's body, read from the events stream when it was stored by reference. */
export async function bodyOf(jsm: JetStreamManager, letter: Pick<JsMsg, 'headers' | 'data'>): Promise<Uint8Array> {
  if (headerOf(letter.headers, DlqHeader.bodyOmitted) === undefined) return letter.data;
  const stream = headerOf(letter.headers, DlqHeader.stream);
  const seq = Number(headerOf(letter.headers, DlqHeader.streamSeq));
  if (!stream || !Number.isInteger(seq)) throw new Error('dead letter stored by reference names no original');
  const original = await jsm.streams.getMessage(stream, { seq });
  if (!original) throw new Error(`the original (${stream} #${seq}) is gone: past the events stream's max age`);
  return original.data;
}

type Headers = Parameters<typeof copyUserHeaders>[0];

/** The original application headers, plus the first delivery's identity (kept if already there). */
export function redriveHeaders(dlqHeaders: Headers) {
  const out = copyUserHeaders(dlqHeaders, createHeaders());
  const hasIdentity =
    headerOf(dlqHeaders, IdentityHeader.streamSeq) !== undefined ||
    headerOf(dlqHeaders, IdentityHeader.msgId) !== undefined;
  if (!hasIdentity) {
    const msgId = headerOf(dlqHeaders, DlqHeader.msgId);
    const origStream = headerOf(dlqHeaders, DlqHeader.stream);
    const origSeq = headerOf(dlqHeaders, DlqHeader.streamSeq);
    if (msgId !== undefined) out.set(IdentityHeader.msgId, msgId);
    if (origStream !== undefined && origSeq !== undefined) {
      out.set(IdentityHeader.stream, origStream);
      out.set(IdentityHeader.streamSeq, origSeq);
    }
  }
  return out;
}
