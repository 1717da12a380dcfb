// The consume loop of ingest: pull from the durable consumer with at most `maxInFlight`
// messages in hand, process each, and carry out what message-decision.ts decides. The breaker,
// the dead-lettering, the filter-failure log and the MAX_DELIVERIES consumer are rooms of their own.
import {
  assertNever,
  type EventEnvelope,
  eventKey,
  type InputLimits,
  type MatchOutcome,
  normalizeMessage,
} from '@activity-core/core';
import { classifyFailure } from '@activity-core/failures';
import type { Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import {
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Tracer } from '@opentelemetry/api';
import { PauseBreaker } from './breaker.ts';
import { createDeadLettering, type DeadLettering } from './dead-lettering.ts';
import { FilterFailureLog } from './filter-failures.ts';
import { type MaxDeliveriesConsumer, startMaxDeliveriesConsumer } from './max-deliveries.ts';
import {
  decideMessage,
  type MessageDecision,
  type MessageOutcome,
  type NakCause,
  nakDelayMs,
  type WindowKeyFailure,
} from './message-decision.ts';
import { type MessageSpan, messageSpan } from './message-span.ts';
import type { IngestMetrics } from './metrics.ts';
import { toRawMessage } from './raw-message.ts';
import { isUnavailableError, type RunStarter } from './run-starter.ts';
import { Slots } from './slots.ts';

/** What the pipeline needs from the definition index (see `DefinitionIndex`). */
export interface DefinitionSource {
  /** Taken when a message arrives. */
  ticket(): number;
  /**
   * Resolves once the index reflects every definition write committed before the ticket was
   * taken; rejects when it cannot (the database is unavailable): ingest then hands the message
   * back and pauses instead of matching it against an index that may be older than it.
   */
  catchUp(ticket: number): Promise<void>;
  /**
   * Definitions to start (with their window key, if windowed), and those whose filter failed on
   * the event (parked as `filter_error`).
   */
  match(envelope: EventEnvelope): MatchOutcome;
}

export interface IngestPipelineDeps {
  readonly nc: NatsConnection;
  readonly topology: Topology;
  readonly definitions: DefinitionSource;
  readonly starter: RunStarter;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /**
   * When given (tracing is on), each message gets a span under the event's `traceparent`, and
   * the starts run inside it. Absent: no span code runs at all.
   */
  readonly tracer?: Tracer;
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
  /** Bounds of event data (depth, elements, string bytes); core's defaults when absent. */
  readonly inputLimits?: InputLimits;
  /** `source` of plain JSON events. */
  readonly defaultSource: string;
  /** First nak delay after a failed start; doubles per delivery up to `nakMaxDelayMs`. */
  readonly nakDelayMs: number;
  readonly nakMaxDelayMs: number;
  /** First wait between health probes while paused; doubles up to 5 s. */
  readonly probeIntervalMs?: number;
  /**
   * How long one pull request waits on the server (nats.js `expires`; the idle heartbeat is
   * half of it). When the consumer leader moves (a step-down, its node lost) the pending pull
   * is gone with it, and nats.js pulls again only after two missed heartbeats: so this is also
   * about how long ingest stalls on a leader change. Default {@link DEFAULT_PULL_EXPIRES_MS};
   * nats.js' own default is 30 s. At least 1 s (nats.js refuses less).
   */
  readonly pullExpiresMs?: number;
  /**
   * Test seam: runs after every start of a message was accepted and before its ack (and before
   * the `filter_error` / `window_key` copies of a message some definitions failed on). The ingest service wires
   * `AC_INGEST_CRASH_AFTER_START` (test-only) to a SIGKILL here.
   */
  readonly afterStarts?: (message: JsMsg) => void;
}

/** The pull `expires` ingest uses unless told otherwise (`AC_INGEST_PULL_EXPIRES_MS`). */
export const DEFAULT_PULL_EXPIRES_MS = 5_000;

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
 * match, and ack only when every start was accepted. A definition whose filter failed on the
 * event (each filter runs within its own budget) does not hold up the others: the event is
 * started for them and a copy is stored in the DLQ as `filter_error` for the failed ones,
 * counted and logged per definition, before the ack. A windowed definition signals-with-start
 * its key's window instead; one whose key fails on the event gets a `window_key` copy the same way. When Temporal (or the index) is
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
  readonly #breaker: PauseBreaker;
  readonly #filterFailureLog: FilterFailureLog;
  #js: JetStreamClient | undefined;
  #deadLetters: DeadLettering | undefined;
  #maxDeliveries: MaxDeliveriesConsumer | undefined;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(deps: IngestPipelineDeps, options: IngestPipelineOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#slots = new Slots(options.maxInFlight);
    this.#filterFailureLog = new FilterFailureLog(deps.logger);
    this.#breaker = new PauseBreaker({
      probe: async () => {
        await deps.starter.probe();
        await deps.definitions.catchUp(deps.definitions.ticket());
      },
      ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
      sleep: (ms) => this.#sleep(ms),
      onPause: (reason) => {
        deps.metrics.breakerOpen.set(1);
        deps.logger.warn('pausing consumption until dependencies answer', { reason });
        this.#messages?.stop();
      },
      onResume: () => {
        deps.metrics.breakerOpen.set(0);
        deps.logger.info('dependencies answer again; resuming consumption');
      },
    });
  }

  get paused(): boolean {
    return this.#breaker.paused;
  }

  get inFlight(): number {
    return this.#slots.active;
  }

  async start(): Promise<void> {
    const { nc, topology, logger, metrics } = this.#deps;
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    this.#js = js;
    // Fail fast on a missing stream or consumer rather than inside the loop.
    await jsm.consumers.info(topology.events.stream, this.#options.consumer);
    const maxPayload = () => nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
    this.#deadLetters = createDeadLettering({ js, topology, logger, metrics, maxPayload });
    this.#maxDeliveries = await startMaxDeliveriesConsumer(
      { js, jsm, topology, logger, metrics, maxPayload },
      { consumer: this.#options.consumer },
    );
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
    await this.#maxDeliveries?.stop();
  }

  async #run(): Promise<void> {
    const { topology, logger } = this.#deps;
    const js = this.#js as JetStreamClient;
    const holding = () => this.#breaker.paused || this.#stopping;
    while (!this.#stopping) {
      await this.#breaker.waitUntilClosed(() => this.#stopping);
      if (this.#stopping) break;
      try {
        const consumer = await js.consumers.get(topology.events.stream, this.#options.consumer);
        // The pull for the next batch is queued behind the buffered messages, so at most about
        // one batch waits here while `maxInFlight` are being processed: no unbounded buffering.
        const messages = await consumer.consume({
          max_messages: this.#options.maxInFlight,
          expires: this.#options.pullExpiresMs ?? DEFAULT_PULL_EXPIRES_MS,
        });
        this.#messages = messages;
        if (holding()) messages.stop();
        for await (const message of messages) {
          // Taken on arrival: the index must reflect every definition write before this point.
          const ticket = this.#deps.definitions.ticket();
          if (holding()) {
            this.#handBack(message);
            continue;
          }
          await this.#slots.acquire();
          if (holding()) {
            this.#slots.release();
            this.#handBack(message);
            continue;
          }
          void this.#handle(message, ticket).finally(() => this.#slots.release());
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

  async #handle(message: JsMsg, ticket: number): Promise<void> {
    const { metrics, logger } = this.#deps;
    metrics.inFlight.inc();
    metrics.received.inc();
    if (message.info.deliveryCount > 1) metrics.redeliveries.inc();
    try {
      await this.#process(message, ticket);
    } catch (error) {
      logger.error('unexpected failure while handling a message; it will be redelivered', {
        error,
        seq: message.seq,
        subject: message.subject,
      });
      await this.#carryOut(message, this.#decide(message, { kind: 'error' }));
    } finally {
      metrics.inFlight.dec();
    }
  }

  async #process(message: JsMsg, ticket: number): Promise<void> {
    const span = messageSpan(this.#deps.tracer, message);
    let outcome: MessageOutcome;
    try {
      outcome = await this.#outcome(message, ticket, span);
    } catch (error) {
      span.end({ kind: 'error' });
      throw error;
    }
    span.end(outcome);
    if (outcome.kind === 'start_failed') this.#startFailed(message, outcome);
    if (outcome.kind === 'start_rejected') this.#deps.metrics.startFailures.inc({ kind: 'rejected' });
    const decision = this.#decide(message, outcome);
    if (outcome.kind === 'started' || outcome.kind === 'definitions_failed') this.#options.afterStarts?.(message);
    await this.#carryOut(message, decision);
  }

  /** Normalizes, checks the depth, matches and starts: how processing this message went. */
  async #outcome(message: JsMsg, ticket: number, span: MessageSpan): Promise<MessageOutcome> {
    const { metrics, definitions, starter, topology } = this.#deps;
    const result = normalizeMessage(toRawMessage(message), {
      defaultSource: this.#options.defaultSource,
      maxPayloadBytes: this.#options.maxPayloadBytes,
      subjectPrefix: topology.events.subjectPrefix,
      ...(this.#options.inputLimits ? { limits: this.#options.inputLimits } : {}),
    });
    if (!result.ok) {
      return { kind: 'invalid', code: result.error.code, message: result.error.message, field: result.error.field };
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
    span.normalized(envelope);
    if (envelope.causationdepth >= this.#options.maxCausationDepth) {
      return { kind: 'too_deep', depth: envelope.causationdepth, limit: this.#options.maxCausationDepth };
    }
    try {
      await definitions.catchUp(ticket);
    } catch {
      return { kind: 'index_stale' };
    }
    const { matched: matches, failed } = definitions.match(envelope);
    for (const failure of failed) {
      metrics.filterErrors.inc({ definition: failure.key, code: failure.code });
      this.#filterFailureLog.record(failure, {
        seq: message.seq,
        subject: message.subject,
        eventKey: eventKey(envelope),
      });
    }
    if (matches.length === 0 && failed.length === 0) {
      metrics.unmatched.inc();
      return { kind: 'unmatched' };
    }
    metrics.matched.inc(matches.length);
    span.event('matched', { 'activity_core.matched': matches.length, 'activity_core.filter_failures': failed.length });
    const keyFailures: WindowKeyFailure[] = [];
    try {
      await span.within(() =>
        Promise.all(
          matches.map(async (definition) => {
            const request = { definitionId: definition.id, version: definition.version, envelope };
            const end = metrics.startLatency.startTimer();
            if (definition.window === undefined) {
              const started = await starter.start(request);
              end();
              if (started.started) metrics.starts.inc();
              else metrics.duplicateStarts.inc();
            } else if (definition.window.ok) {
              await starter.signalWindow({
                ...request,
                key: definition.window.key,
                keyHash: definition.window.keyHash,
              });
              end();
              metrics.windowSignals.inc();
            } else {
              keyFailures.push({
                definitionKey: definition.key,
                code: definition.window.code,
                message: definition.window.message,
              });
            }
          }),
        ),
      );
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure.permanent) return { kind: 'start_rejected', reason: failure.reason };
      return { kind: 'start_failed', unavailable: isUnavailableError(error), error };
    }
    return failed.length > 0 || keyFailures.length > 0
      ? { kind: 'definitions_failed', filters: failed, windowKeys: keyFailures }
      : { kind: 'started' };
  }

  #startFailed(message: JsMsg, outcome: Extract<MessageOutcome, { kind: 'start_failed' }>): void {
    this.#deps.metrics.startFailures.inc({ kind: outcome.unavailable ? 'unavailable' : 'error' });
    if (message.info.deliveryCount < this.#options.maxDeliver) {
      this.#deps.logger.warn('start failed; the message will be redelivered', {
        seq: message.seq,
        deliveryCount: message.info.deliveryCount,
        unavailable: outcome.unavailable,
        error: outcome.error,
      });
    }
  }

  #decide(message: JsMsg, outcome: MessageOutcome): MessageDecision {
    return decideMessage(outcome, { deliveryCount: message.info.deliveryCount }, this.#options);
  }

  async #carryOut(message: JsMsg, decision: MessageDecision): Promise<void> {
    switch (decision.action) {
      case 'ack':
        await this.#ack(message);
        return;
      case 'nak':
        if (decision.pause !== undefined) this.#breaker.pause(decision.pause);
        this.#nak(message, decision.cause, decision.delayMs);
        return;
      case 'dead_letter': {
        if (decision.pause !== undefined) this.#breaker.pause(decision.pause);
        const stored = await (this.#deadLetters as DeadLettering).park(message, decision);
        if (!stored) this.#nak(message, 'dlq_unavailable', nakDelayMs(message.info.deliveryCount, this.#options));
        return;
      }
      case 'dead_letter_copy': {
        let stored = true;
        for (const copy of decision.copies) {
          stored = await (this.#deadLetters as DeadLettering).copy(message, copy);
          if (!stored) break;
        }
        if (stored) await this.#ack(message);
        else this.#nak(message, 'dlq_unavailable', nakDelayMs(message.info.deliveryCount, this.#options));
        return;
      }
      default:
        assertNever(decision, 'message decision');
    }
  }

  #nak(message: JsMsg, cause: NakCause, delayMs: number): void {
    message.nak(delayMs);
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
}
