import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DEAD_LETTER_REASONS } from './dead-letter.ts';

/** The ingest counters, gauges and histograms, registered on the registry given. */
export interface IngestMetrics {
  readonly received: Counter;
  readonly redeliveries: Counter;
  readonly normalized: Counter;
  readonly rejected: Counter<'reason'>;
  readonly deadLetters: Counter<'reason'>;
  readonly matched: Counter;
  readonly unmatched: Counter;
  readonly filterErrors: Counter<'definition' | 'code'>;
  readonly starts: Counter;
  readonly duplicateStarts: Counter;
  readonly windowSignals: Counter;
  readonly startFailures: Counter<'kind'>;
  readonly acks: Counter;
  readonly naks: Counter<'cause'>;
  readonly inFlight: Gauge;
  readonly startLatency: Histogram;
  readonly definitions: Gauge;
  readonly indexRevision: Gauge;
  /** `ac_ingest_index_age_seconds`: call when the index has applied a successful read of the definitions. */
  indexRead(): void;
  readonly indexCatchUps: Counter<'outcome'>;
  readonly indexChanges: Counter;
  readonly indexRefreshes: Counter<'outcome'>;
  readonly breakerOpen: Gauge;
}

/** Creates the metrics on `registry` (one registry per pipeline, so tests can run several). */
export function createIngestMetrics(registry: Registry): IngestMetrics {
  const registers = [registry];
  let indexReadAt: number | undefined;
  new Gauge({
    name: 'ac_ingest_index_age_seconds',
    help: 'Seconds since the definition index last applied a successful read of the definitions (a catch-up or a rebuild); grows while PostgreSQL cannot be read',
    registers,
    collect() {
      if (indexReadAt !== undefined) this.set(Math.max(0, (Date.now() - indexReadAt) / 1000));
    },
  });
  const metrics: IngestMetrics = {
    indexRead: () => {
      indexReadAt = Date.now();
    },
    received: new Counter({ name: 'ac_ingest_received_total', help: 'Messages delivered to ingest', registers }),
    redeliveries: new Counter({
      name: 'ac_ingest_redeliveries_total',
      help: 'Deliveries of a message that was delivered before',
      registers,
    }),
    normalized: new Counter({
      name: 'ac_ingest_normalized_total',
      help: 'Messages normalized into an EventEnvelope',
      registers,
    }),
    rejected: new Counter({
      name: 'ac_ingest_rejected_total',
      help: 'Messages refused (dead-lettered), by reason code',
      labelNames: ['reason'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'ac_ingest_dead_letters_total',
      help: 'Dead letters stored in the DLQ stream, by reason code (includes max_deliveries advisories)',
      labelNames: ['reason'],
      registers,
    }),
    matched: new Counter({
      name: 'ac_ingest_matched_total',
      help: 'Definition matches (one event can match several definitions)',
      registers,
    }),
    unmatched: new Counter({
      name: 'ac_ingest_unmatched_total',
      help: 'Events that matched no enabled definition (acked)',
      registers,
    }),
    filterErrors: new Counter({
      name: 'ac_ingest_filter_errors_total',
      help: 'Deliveries whose filter failed for a definition (over budget, type error…), by definition key and error code; the event is parked in the DLQ as filter_error',
      labelNames: ['definition', 'code'],
      registers,
    }),
    starts: new Counter({ name: 'ac_ingest_starts_total', help: 'RunActivityWorkflow starts accepted', registers }),
    duplicateStarts: new Counter({
      name: 'ac_ingest_duplicate_starts_total',
      help: 'Starts whose workflow id already existed (the run was started before)',
      registers,
    }),
    windowSignals: new Counter({
      name: 'ac_ingest_window_signals_total',
      help: 'Events handed to their event window (signal-with-start accepted)',
      registers,
    }),
    startFailures: new Counter({
      name: 'ac_ingest_start_failures_total',
      help: 'Failed starts, by kind (unavailable: Temporal unreachable or timed out; rejected: refused for good, dead-lettered; error: anything else)',
      labelNames: ['kind'],
      registers,
    }),
    acks: new Counter({ name: 'ac_ingest_acks_total', help: 'Messages acked (server confirmed)', registers }),
    naks: new Counter({
      name: 'ac_ingest_naks_total',
      help: 'Messages handed back for redelivery, by cause',
      labelNames: ['cause'],
      registers,
    }),
    inFlight: new Gauge({ name: 'ac_ingest_in_flight', help: 'Messages being processed now', registers }),
    startLatency: new Histogram({
      name: 'ac_ingest_start_latency_seconds',
      help: 'Time for Temporal to accept one RunActivityWorkflow start',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    definitions: new Gauge({
      name: 'ac_ingest_definitions',
      help: 'Enabled event-triggered definitions in the in-memory index',
      registers,
    }),
    indexRevision: new Gauge({
      name: 'ac_ingest_index_revision',
      help: 'The definitions revision the in-memory index reflects',
      registers,
    }),
    indexCatchUps: new Counter({
      name: 'ac_ingest_index_catch_ups_total',
      help: 'Reads of the definition feed before matching (about one per pull batch), by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    indexChanges: new Counter({
      name: 'ac_ingest_index_changes_total',
      help: 'Definition rows applied to the index (by catch-ups and rebuilds)',
      registers,
    }),
    indexRefreshes: new Counter({
      name: 'ac_ingest_index_refreshes_total',
      help: 'Full rebuilds of the definition index (the periodic safety net), by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    breakerOpen: new Gauge({
      name: 'ac_ingest_paused',
      help: '1 while consumption is paused because Temporal or PostgreSQL is unavailable',
      registers,
    }),
  };
  for (const reason of DEAD_LETTER_REASONS) {
    metrics.rejected.inc({ reason }, 0);
    metrics.deadLetters.inc({ reason }, 0);
  }
  return metrics;
}
