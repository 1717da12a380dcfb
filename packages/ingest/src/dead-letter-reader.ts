import type { Topology } from '@activity-core/messaging';
import { jetstreamManager } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { originalSubject } from './dead-letter.ts';
import { DlqHeader, headerOf, headersToRecord } from './headers.ts';
import { bodyOf, deadLetterFilter } from './redrive.ts';
import { readStream } from './stream-reader.ts';

export interface DeadLetterReaderDeps {
  readonly nc: NatsConnection;
  readonly topology: Topology;
}

/** What the `Ac-Dlq-*` headers of one dead letter say, without its body. */
export interface DeadLetterSummary {
  /** Sequence in the DLQ stream: the handle for show and redrive. */
  readonly seq: number;
  /** When the dead letter was stored. */
  readonly time: string;
  /** The subject the message arrived on (`events.order.created`). */
  readonly subject: string;
  readonly reason: string | null;
  readonly message: string | null;
  readonly field: string | null;
  readonly deliveryCount: number | null;
  /** Where the original was: stream and sequence. */
  readonly originalStream: string | null;
  readonly originalSeq: number | null;
  /** Size of the original body in bytes. */
  readonly bodyBytes: number;
  /** True when the body was too large to store beside the headers and stays in the events stream. */
  readonly bodyOmitted: boolean;
}

export interface DeadLetterDetail extends DeadLetterSummary {
  /** Every header of the dead letter: the original application headers and the `Ac-Dlq-*` set. */
  readonly headers: Record<string, string[]>;
  /** The original body as base64, and as text when it is UTF-8; null when it is gone (stored by reference, past the events stream's max age). */
  readonly body: { readonly base64: string; readonly text: string | null } | null;
}

export interface ListDeadLettersOptions {
  /** Original subject filter (`order.>` or `events.order.>`). */
  readonly subject?: string;
  /** Only this `Ac-Dlq-Reason`. */
  readonly reason?: string;
  /** Start after this DLQ sequence (the previous page's `nextSeq`). */
  readonly afterSeq?: number;
  readonly limit: number;
  /** Most dead letters looked at in one call when the reason filter skips many (default 10 000). */
  readonly maxScan?: number;
}

export interface DeadLetterPage {
  readonly items: DeadLetterSummary[];
  /** Give as `afterSeq` to continue; null when the DLQ holds nothing further. */
  readonly nextSeq: number | null;
}

function intOrNull(value: string | undefined): number | null {
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

function summarize(
  seq: number,
  time: Date,
  subject: string,
  headers: MsgHdrs | undefined,
  data: Uint8Array,
  t: Topology,
) {
  const omitted = headerOf(headers, DlqHeader.bodyOmitted);
  return {
    seq,
    time: time.toISOString(),
    subject: headerOf(headers, DlqHeader.subject) ?? originalSubject(t, subject),
    reason: headerOf(headers, DlqHeader.reason) ?? null,
    message: headerOf(headers, DlqHeader.message) ?? null,
    field: headerOf(headers, DlqHeader.field) ?? null,
    deliveryCount: intOrNull(headerOf(headers, DlqHeader.deliveryCount)),
    originalStream: headerOf(headers, DlqHeader.stream) ?? null,
    originalSeq: intOrNull(headerOf(headers, DlqHeader.streamSeq)),
    bodyBytes: omitted !== undefined ? (intOrNull(omitted) ?? 0) : data.length,
    bodyOmitted: omitted !== undefined,
  } satisfies DeadLetterSummary;
}

/**
 * Pages through the DLQ, oldest first, reading headers only: the same filters as
 * {@link redriveDeadLetters}, so a listing shows what a redrive with those filters would move.
 */
export async function listDeadLetters(
  deps: DeadLetterReaderDeps,
  options: ListDeadLettersOptions,
): Promise<DeadLetterPage> {
  const t = deps.topology;
  const maxScan = options.maxScan ?? 10_000;
  const items: DeadLetterSummary[] = [];
  let scanned = 0;
  let lastSeq: number | null = null;
  let exhausted = true;
  for await (const letter of readStream(deps.nc, {
    stream: t.dlq.stream,
    filter: deadLetterFilter(t, options.subject),
    ...(options.afterSeq !== undefined ? { startSeq: options.afterSeq + 1 } : {}),
  })) {
    scanned++;
    lastSeq = letter.seq;
    const reason = headerOf(letter.headers, DlqHeader.reason);
    if (options.reason === undefined || reason === options.reason) {
      items.push(summarize(letter.seq, letter.time, letter.subject, letter.headers, letter.data, t));
    }
    if (items.length >= options.limit || scanned >= maxScan) {
      exhausted = letter.info.pending === 0;
      break;
    }
  }
  return { items, nextSeq: exhausted ? null : lastSeq };
}

/** One dead letter with its headers and body, or null when the DLQ has no such sequence. */
export async function getDeadLetter(deps: DeadLetterReaderDeps, seq: number): Promise<DeadLetterDetail | null> {
  const jsm = await jetstreamManager(deps.nc);
  const stored = await jsm.streams.getMessage(deps.topology.dlq.stream, { seq });
  if (!stored) return null;
  const summary = summarize(stored.seq, stored.time, stored.subject, stored.header, stored.data, deps.topology);
  let body: DeadLetterDetail['body'] = null;
  try {
    const bytes = await bodyOf(jsm, { headers: stored.header, data: stored.data });
    let text: string | null = null;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      text = null;
    }
    body = { base64: Buffer.from(bytes).toString('base64'), text };
  } catch {
    // Stored by reference and the original has aged out of the events stream.
    body = null;
  }
  return { ...summary, headers: headersToRecord(stored.header), body };
}
