import { type EventEnvelope, type MatchedDefinition, normalizeMessage, type RawMessage } from '@activity-core/core';
import type { Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import {
  AckPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { type DeadLetterReason, publishDeadLetter } from './dead-letter.ts';
import { headerOf, headersToRecord, IdentityHeader } from './headers.ts';
import type { IngestMetrics } from './metrics.ts';
import { isUnavailableError, type RunStarter } from './run-starter.ts';
import { backoffDelayMs, Slots } from './slots.ts';

/** What the pipeline needs from the definition index (see `DefinitionIndex`). */
export interface DefinitionSource {
  match(envelope: EventEnvelope): MatchedDefinition[];
  /** False while the index may miss definitions; ingest then pauses instead of acking unmatched events. */
  isFresh(): boolean;
}

export interface IngestPipelineDeps {
  readonly nc: NatsConnection;
  readonly topology: Topology;
  readonly definitions: DefinitionSource;
  readonly starter: RunStarter;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
}

export interface IngestPipelineOptions {
  /** Durable consumer name on the events stream (created beforehand by `ensureIngestConsumer`). */
  readonly consumer: string;
  /** Messages processed at once by this process; also the pull batch size. */
  readonly maxInFlight: number;
  /** The consumer's `max_deliver`: a failure on the last delivery is dead-lettered (`max_deliveries`). */
  readonly maxDeliver: number;
  /** Events whose `causationdepth` reaches this are dead-lettered with `max_depth`. */
  readonly maxCausationDepth: number;
  readonly maxPayloadBytes: number;
  /** `source` of plain JSON events. */
  readonly defaultSource: string;
  /** First nak delay after a failed start; doubles per delivery up to `nakMaxDelayMs`. */
  readonly nakDelayMs: number;
  readonly nakMaxDelayMs: number;
  /** First wait between health probes while paused; doubles up to 5 s. */
  readonly probeIntervalMs?: number;
  /**
   * Test seam: runs after every start of a message was accepted and before its ack. The
   * ingest service wires `AC_INGEST_CRASH_AFTER_START` (test-only) to a SIGKILL here.
   */
  readonly afterStarts?: (message: JsMsg) => void;
}

export interface IngestPipeline {
  /** Starts consuming; resolves once the consumer loop and the advisory listener run. */
  start(): Promise<void>;
  /** Stops pulling, hands unstarted buffered messages back, waits for in-flight ones (up to `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
  /** True while consumption is paused because Temporal or the definition index is unavailable. */
  readonly paused: boolean;
  readonly inFlight: number;
}

/**
 * The ingest loop. Per message: normalize (invalid ⇒ dead letter, then `term`), refuse loops
 * (`max_depth`), match against the definition index, start RunActivityWorkflow for every
 * match, and ack only when every start was accepted. When Temporal (or the index) is
 * unavailable, the message is nak'd with a delay and consumption pauses until a probe
 * succeeds, so messages wait in the stream instead of burning their deliveries.
 *
 * Messages the server stops redelivering (`max_deliver` reached, e.g. after crashes) are
 * announced by a MAX_DELIVERIES advisory: ingest copies the stored message to the DLQ and
 * only then deletes it from the events stream.
 */
export function createIngestPipeline(deps: IngestPipelineDeps, options: IngestPipelineOptions): IngestPipeline {
  return new Pipeline(deps, options);
}

class Pipeline implements IngestPipeline {
  readonly #deps: IngestPipelineDeps;
  readonly #options: IngestPipelineOptions;
  readonly #slots: Slots;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #advisories: ConsumerMessages | undefined;
  #advisoryLoop: Promise<void> | undefined;
  #stopping = false;
  #paused = false;
  #wake: (() => void) | undefined;

  constructor(deps: IngestPipelineDeps, options: IngestPipelineOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#slots = new Slots(options.maxInFlight);
  }

  get paused(): boolean {
    return this.#paused;
  }

  get inFlight(): number {
    return this.#slots.active;
  }

  async start(): Promise<void> {
    this.#js = jetstream(this.#deps.nc);
    this.#jsm = await jetstreamManager(this.#deps.nc);
    // Fail fast on a missing stream or consumer rather than inside the loop.
    await this.#jsm.consumers.info(this.#deps.topology.events.stream, this.#options.consumer);
    await this.#watchMaxDeliveries();
    this.#loop = this.#run();
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    this.#stopping = true;
    this.#messages?.stop();
    this.#wake?.();
    await this.#loop;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.#slots.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.#deps.logger.warn('shutdown timed out with messages in flight; they will be redelivered', {
        inFlight: this.#slots.active,
      });
    }
    this.#advisories?.stop();
    await this.#advisoryLoop;
  }

  async #run(): Promise<void> {
    const { topology, logger } = this.#deps;
    const js = this.#js as JetStreamClient;
    while (!this.#stopping) {
      await this.#waitUntilHealthy();
      if (this.#stopping) break;
      try {
        const consumer = await js.consumers.get(topology.events.stream, this.#options.consumer);
        // The pull for the next batch is queued behind the buffered messages, so at most about
        // one batch waits here while `maxInFlight` are being processed: no unbounded buffering.
        const messages = await consumer.consume({ max_messages: this.#options.maxInFlight });
        this.#messages = messages;
        if (this.#paused || this.#stopping) messages.stop();
        for await (const message of messages) {
          if (this.#paused || this.#stopping) {
            this.#handBack(message);
            continue;
          }
          await this.#slots.acquire();
          if (this.#paused || this.#stopping) {
            this.#slots.release();
            this.#handBack(message);
            continue;
          }
          void this.#handle(message).finally(() => this.#slots.release());
        }
      } catch (error) {
        if (this.#stopping) break;
        logger.warn('consumer loop failed; restarting', { error });
        await this.#sleep(1000);
      } finally {
        this.#messages = undefined;
      }
    }
  }

  /** A buffered message this process will not handle now: redeliver it at once to any replica. */
  #handBack(message: JsMsg): void {
    message.nak();
    this.#deps.metrics.naks.inc({ cause: this.#stopping ? 'shutdown' : 'paused' });
  }

  async #handle(message: JsMsg): Promise<void> {
    const { metrics, logger } = this.#deps;
    metrics.inFlight.inc();
    metrics.received.inc();
    if (message.info.deliveryCount > 1) metrics.redeliveries.inc();
    try {
      await this.#process(message);
    } catch (error) {
      logger.error('unexpected failure while handling a message; it will be redelivered', {
        error,
        seq: message.seq,
        subject: message.subject,
      });
      this.#nak(message, 'error');
    } finally {
      metrics.inFlight.dec();
    }
  }

  async #process(message: JsMsg): Promise<void> {
    const { metrics, definitions, starter, topology } = this.#deps;
    const result = normalizeMessage(toRawMessage(message), {
      defaultSource: this.#options.defaultSource,
      maxPayloadBytes: this.#options.maxPayloadBytes,
      subjectPrefix: topology.events.subjectPrefix,
    });
    if (!result.ok) {
      await this.#deadLetter(message, result.error.code, result.error.message, result.error.field);
      return;
    }
    metrics.normalized.inc();
    const envelope: EventEnvelope = result.envelope.delivery
      ? {
          ...result.envelope,
          // Identity headers of a redriven message stand in for the original delivery when
          // deriving the id; the envelope still records where this delivery really came from.
          delivery: { ...result.envelope.delivery, stream: message.info.stream, sequence: message.seq },
        }
      : result.envelope;
    if (envelope.causationdepth >= this.#options.maxCausationDepth) {
      await this.#deadLetter(
        message,
        'max_depth',
        `causation depth ${envelope.causationdepth} reaches the limit ${this.#options.maxCausationDepth}`,
        'causationdepth',
      );
      return;
    }
    if (!definitions.isFresh()) {
      this.#pause('the definition index is stale (database unavailable)');
      this.#nak(message, 'unavailable');
      return;
    }
    const matches = definitions.match(envelope);
    if (matches.length === 0) {
      metrics.unmatched.inc();
      await this.#ack(message);
      return;
    }
    metrics.matched.inc(matches.length);
    try {
      await Promise.all(
        matches.map(async (definition) => {
          const end = metrics.startLatency.startTimer();
          const started = await starter.start({ definitionId: definition.id, version: definition.version, envelope });
          end();
          if (started.started) metrics.starts.inc();
          else metrics.duplicateStarts.inc();
        }),
      );
    } catch (error) {
      await this.#startFailed(message, error);
      return;
    }
    this.#options.afterStarts?.(message);
    await this.#ack(message);
  }

  async #startFailed(message: JsMsg, error: unknown): Promise<void> {
    const { metrics, logger } = this.#deps;
    const unavailable = isUnavailableError(error);
    metrics.startFailures.inc({ kind: unavailable ? 'unavailable' : 'error' });
    if (unavailable) this.#pause('Temporal is unavailable');
    if (message.info.deliveryCount >= this.#options.maxDeliver) {
      await this.#deadLetter(
        message,
        'max_deliveries',
        `start failed on delivery ${message.info.deliveryCount} of ${this.#options.maxDeliver}: ${errorText(error)}`,
      );
      return;
    }
    logger.warn('start failed; the message will be redelivered', {
      seq: message.seq,
      deliveryCount: message.info.deliveryCount,
      unavailable,
      error,
    });
    this.#nak(message, unavailable ? 'unavailable' : 'start_error');
  }

  #nak(message: JsMsg, cause: string): void {
    // The consumer's backoff does not apply to nak: compute the delay here.
    message.nak(backoffDelayMs(message.info.deliveryCount, this.#options.nakDelayMs, this.#options.nakMaxDelayMs));
    this.#deps.metrics.naks.inc({ cause });
  }

  async #ack(message: JsMsg): Promise<void> {
    try {
      if (await message.ackAck()) this.#deps.metrics.acks.inc();
    } catch (error) {
      // Not confirmed: the message comes back and its starts are recognised as duplicates.
      this.#deps.logger.warn('ack not confirmed; the message may be redelivered', { seq: message.seq, error });
    }
  }

  /** Stores the dead letter, and only once the DLQ stream acknowledged it, terminates the original. */
  async #deadLetter(message: JsMsg, reason: DeadLetterReason, text: string, field?: string): Promise<void> {
    const { metrics, logger, topology } = this.#deps;
    metrics.rejected.inc({ reason });
    try {
      // A body stored by reference stays readable: `term` leaves the message in the events
      // stream until its max age.
      await publishDeadLetter(
        this.#js as JetStreamClient,
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
        },
        this.#maxPayload(),
      );
    } catch (error) {
      logger.warn('dead letter not stored; the message will be redelivered', { seq: message.seq, reason, error });
      this.#nak(message, 'dlq_unavailable');
      return;
    }
    metrics.deadLetters.inc({ reason });
    logger.info('message dead-lettered', { seq: message.seq, subject: message.subject, reason, detail: text });
    message.term(reason);
  }

  #pause(reason: string): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#deps.metrics.breakerOpen.set(1);
    this.#deps.logger.warn('pausing consumption until dependencies answer', { reason });
    this.#messages?.stop();
  }

  async #waitUntilHealthy(): Promise<void> {
    let delay = this.#options.probeIntervalMs ?? 250;
    while (this.#paused && !this.#stopping) {
      await this.#sleep(delay);
      if (this.#stopping) return;
      try {
        await this.#deps.starter.probe();
        if (!this.#deps.definitions.isFresh()) throw new Error('the definition index is stale');
        this.#paused = false;
        this.#deps.metrics.breakerOpen.set(0);
        this.#deps.logger.info('dependencies answer again; resuming consumption');
      } catch {
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /**
   * Dead-letters messages that ran out of deliveries. Their advisories are captured by the
   * advisories stream and read through a durable consumer shared by all replicas, so one that
   * fired while ingest was down is handled when it comes back; an advisory is acked only after
   * its message is in the DLQ, and retried later otherwise.
   */
  async #watchMaxDeliveries(): Promise<void> {
    const { topology, logger } = this.#deps;
    const jsm = this.#jsm as JetStreamManager;
    const durable = `${this.#options.consumer}-advisories`;
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(60_000),
      filter_subject: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${topology.events.stream}.${this.#options.consumer}`,
    };
    await jsm.consumers.add(topology.advisories.stream, config).catch(async (error: unknown) => {
      if (!/already in use|already exists/i.test(String(error))) throw error;
    });
    const consumer = await (this.#js as JetStreamClient).consumers.get(topology.advisories.stream, durable);
    const messages = await consumer.consume({ max_messages: 16 });
    this.#advisories = messages;
    this.#advisoryLoop = (async () => {
      for await (const advisory of messages) {
        let seq: number | undefined;
        let deliveries = 0;
        try {
          const body = advisory.json<{ stream_seq?: number; deliveries?: number }>();
          seq = body.stream_seq;
          deliveries = body.deliveries ?? 0;
        } catch (error) {
          logger.warn('unreadable max-deliveries advisory; dropping it', { error });
          advisory.term('unreadable');
          continue;
        }
        if (typeof seq !== 'number') {
          advisory.term('no stream_seq');
          continue;
        }
        if (await this.#deadLetterStored(seq, deliveries)) advisory.ack();
        else advisory.nak(30_000);
      }
    })();
  }

  /** Copies a message that ran out of deliveries from the events stream to the DLQ, then deletes it. */
  async #deadLetterStored(seq: number, deliveries: number): Promise<boolean> {
    const { topology, logger, metrics } = this.#deps;
    const jsm = this.#jsm as JetStreamManager;
    const stream = topology.events.stream;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const stored = await jsm.streams.getMessage(stream, { seq }).catch((error: unknown) => {
          if (/no message found/i.test(String(error))) return null;
          throw error;
        });
        if (!stored) return true; // Another replica handled it already.
        const letter = await publishDeadLetter(
          this.#js as JetStreamClient,
          topology,
          {
            subject: stored.subject,
            data: stored.data,
            headers: stored.header,
            stream,
            streamSeq: seq,
            deliveryCount: deliveries,
            reason: 'max_deliveries',
            message: `not processed after ${deliveries} deliveries`,
          },
          this.#maxPayload(),
        );
        metrics.rejected.inc({ reason: 'max_deliveries' });
        metrics.deadLetters.inc({ reason: 'max_deliveries' });
        // A dead letter stored by reference needs the original where it is.
        if (!letter.bodyOmitted) {
          await jsm.streams.deleteMessage(stream, seq).catch((error: unknown) => {
            if (!/no message found/i.test(String(error))) throw error;
          });
        }
        logger.info('message dead-lettered after max deliveries', { seq, deliveries });
        return true;
      } catch (error) {
        logger.warn('cannot dead-letter a message that ran out of deliveries; retrying', { seq, attempt, error });
        await this.#sleepPlain(backoffDelayMs(attempt, 500, 10_000));
      }
    }
    logger.error('cannot dead-letter a message yet; its advisory will come back', { seq, stream });
    return false;
  }

  /** The server's max_payload, as this connection was told. */
  #maxPayload(): number {
    return this.#deps.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  }

  #sleepPlain(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
