import { headers as createHeaders, type MsgHdrs } from '@nats-io/transport-node';

/** Headers ingest writes on every dead letter, beside the original message's own headers. */
export const DlqHeader = {
  reason: 'Ac-Dlq-Reason',
  message: 'Ac-Dlq-Message',
  field: 'Ac-Dlq-Field',
  subject: 'Ac-Dlq-Subject',
  stream: 'Ac-Dlq-Stream',
  streamSeq: 'Ac-Dlq-Stream-Seq',
  deliveryCount: 'Ac-Dlq-Delivery-Count',
  /** The original `Nats-Msg-Id` (all `Nats-*` headers are moved aside, see {@link copyUserHeaders}). */
  msgId: 'Ac-Dlq-Msg-Id',
  time: 'Ac-Dlq-Time',
  /**
   * With reason `filter_error` (or `window_key`): the key of a definition whose filter (or
   * window key) failed on the event, one header value per definition. The other definitions of
   * the event ran as usual.
   */
  definition: 'Ac-Dlq-Definition',
  /**
   * Set (to the body's size in bytes) when the body did not fit beside the DLQ headers under
   * the server's max_payload: the dead letter then holds no body, and the original stays in
   * the events stream at `Ac-Dlq-Stream-Seq` (until that stream's max age), where redrive
   * reads it.
   */
  bodyOmitted: 'Ac-Dlq-Body-Omitted',
} as const;

/**
 * Written by redrive on the first redrive of a message and kept on every later one: the
 * transport identity of the original delivery, from which a plain JSON message's event `id`
 * derives (`Nats-Msg-Id`, else `{stream}:{sequence}`). Ingest reads them in place of the
 * redriven message's own, so a redriven event keeps its event key and cannot start a second run.
 */
export const IdentityHeader = {
  msgId: 'Ac-Original-Msg-Id',
  stream: 'Ac-Original-Stream',
  streamSeq: 'Ac-Original-Stream-Seq',
} as const;

const NATS_PREFIX = 'nats-';
const DLQ_PREFIX = 'ac-dlq-';

/** NATS header values cannot hold line breaks; long messages are cut. */
export function headerValue(text: string, max = 1024): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Copies the application's headers. `Nats-*` headers are left out: they instruct the server
 * (`Nats-Msg-Id` de-duplication, `Nats-Expected-*` preconditions) and would make a republish
 * be dropped or refused. `Ac-Dlq-*` headers are left out too: only ingest writes them.
 */
export function copyUserHeaders(source: MsgHdrs | undefined, target: MsgHdrs = createHeaders()): MsgHdrs {
  if (!source) return target;
  for (const [key, values] of source) {
    const lower = key.toLowerCase();
    if (lower.startsWith(NATS_PREFIX) || lower.startsWith(DLQ_PREFIX)) continue;
    for (const value of values) target.append(key, value);
  }
  return target;
}

/** First value of a header, case-insensitively; `undefined` when absent. */
export function headerOf(hdrs: MsgHdrs | undefined, name: string): string | undefined {
  if (!hdrs) return undefined;
  const lower = name.toLowerCase();
  for (const [key, values] of hdrs) if (key.toLowerCase() === lower) return values[0];
  return undefined;
}

/** Headers as the plain record core's `normalizeMessage` takes. */
export function headersToRecord(hdrs: MsgHdrs | undefined): Record<string, string[]> {
  // No prototype: a header named `__proto__` or `constructor` is a header like any other.
  const out = Object.create(null) as Record<string, string[]>;
  if (!hdrs) return out;
  for (const [key, values] of hdrs) out[key] = [...(out[key] ?? []), ...values];
  return out;
}
