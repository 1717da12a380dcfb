import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';

/**
 * Every message `stream` holds now, oldest first, read one by one by sequence. No consumer
 * and no fetch deadline: on a busy machine a consumer's pull can expire early and return
 * part of the stream, which would read as a missing message.
 */
export async function storedMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    // Deleted sequences (a redriven dead letter, say) are gaps.
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message) out.push(message);
  }
  return out;
}
