// The raw baselines' ingest process (bench/pipeline.ts spawns it): the same durable consumer
// settings and in-flight limit as the product's ingest, and per message only what is needed:
// start the baseline workflow the subject names (id from Nats-Msg-Id, FAIL + REJECT_DUPLICATE
// like the product's starts) and ack once Temporal accepted it. Task events that re-enter the
// events stream are acked, as the product's ingest acks events that match no definition.
import { ensureIngestConsumer } from '@activity-core/ingest';
import { loadConfig } from '@activity-core/ingest-service/config';
import { connectNats, ensureStreams, natsSettingsFrom, topology } from '@activity-core/messaging';
import { type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';

const config = loadConfig();
const t = topology(config.AC_STREAM_PREFIX);
const nc = await connectNats(natsSettingsFrom(config, 'bench-baseline-ingest'));
const jsm = await jetstreamManager(nc);
await ensureStreams(jsm, t);
await ensureIngestConsumer(jsm, t, {
  name: config.AC_INGEST_CONSUMER,
  ackWaitMs: config.AC_INGEST_ACK_WAIT_MS,
  maxDeliver: config.AC_INGEST_MAX_DELIVER,
  maxBackoffMs: config.AC_INGEST_MAX_BACKOFF_MS,
  maxAckPending: config.AC_INGEST_MAX_ACK_PENDING,
});
const connection = await Connection.connect(config.temporal.connection);
const client = new Client({ connection, namespace: config.temporal.namespace });

/** `{prefix}events.baseline.{a|b}` → the workflow and its arguments. */
function workflowOf(message: JsMsg): { type: string; args: unknown[] } | undefined {
  const kind = message.subject.slice(t.events.subjectPrefix.length);
  const id = message.headers?.get('Nats-Msg-Id') ?? String(message.seq);
  if (kind === 'baseline.a') return { type: 'baselineA', args: [id] };
  if (kind === 'baseline.b') return { type: 'baselineB', args: [id, message.json<{ tasks?: number }>().tasks ?? 1] };
  return undefined;
}

async function handle(message: JsMsg): Promise<void> {
  const wf = workflowOf(message);
  if (wf) {
    try {
      await client.workflow.start(wf.type, {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        workflowId: `baseline:${String(wf.args[0])}`,
        args: wf.args,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) {
        message.nak(1000);
        return;
      }
    }
  }
  await message.ackAck();
}

let inFlight = 0;
let wake: (() => void) | undefined;
const consumer = await jetstream(nc).consumers.get(t.events.stream, config.AC_INGEST_CONSUMER);
const messages = await consumer.consume({ max_messages: config.AC_INGEST_MAX_IN_FLIGHT });
process.stderr.write(`${JSON.stringify({ msg: 'baseline ingest ready', pid: process.pid })}\n`);
process.once('SIGTERM', () => messages.stop());
for await (const message of messages) {
  while (inFlight >= config.AC_INGEST_MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  inFlight++;
  void handle(message).finally(() => {
    inFlight--;
    wake?.();
  });
}
await connection.close();
await nc.drain();
process.exit(0);
