import type { RawMessage } from '@activity-core/core';
import type { JsMsg } from '@nats-io/jetstream';
import { headerOf, headersToRecord, IdentityHeader } from './headers.ts';

/**
 * The transport-neutral view core normalizes. For a redriven message, the identity headers
 * written by redrive replace its own `Nats-Msg-Id` and stream sequence, so a plain JSON
 * event derives the same `id` (and event key) as on its first delivery.
 */
export function toRawMessage(
  message: Pick<JsMsg, 'subject' | 'headers' | 'data' | 'seq' | 'info' | 'time'>,
): RawMessage {
  const headers = headersToRecord(message.headers);
  let stream = message.info.stream;
  let streamSequence = message.seq;
  const originalMsgId = headerOf(message.headers, IdentityHeader.msgId);
  const originalStream = headerOf(message.headers, IdentityHeader.stream);
  const originalSeq = headerOf(message.headers, IdentityHeader.streamSeq);
  if (originalMsgId !== undefined || originalSeq !== undefined) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === 'nats-msg-id') delete headers[key];
    if (originalMsgId !== undefined) headers['Nats-Msg-Id'] = [originalMsgId];
    if (originalStream !== undefined && originalSeq !== undefined && /^\d{1,15}$/.test(originalSeq)) {
      stream = originalStream;
      streamSequence = Number(originalSeq);
    }
  }
  return {
    subject: message.subject,
    headers,
    data: message.data,
    info: {
      stream,
      streamSequence,
      deliveryCount: message.info.deliveryCount,
      receivedAt: message.time.toISOString(),
    },
  };
}
