// What ingest does with a delivered message once it knows how processing went: ack it, nak it
// for a later redelivery, park it in the DLQ, or store copies there for the definitions whose
// filter or window key failed and ack it; and whether consumption pauses. Pure, so every outcome's handling
// is decided (and tested) in one place.
import { assertNever, type FilterFailure, jitteredBackoffMs, type NormalizeErrorCode } from '@activity-core/core';
import type { DeadLetterCopyReason, DeadLetterReason } from './dead-letter.ts';

/** How processing one message went. */
export type MessageOutcome =
  /** It is not a valid event (normalization failed). */
  | {
      readonly kind: 'invalid';
      readonly code: NormalizeErrorCode;
      readonly message: string;
      readonly field?: string | undefined;
    }
  /** Its causation depth reached the limit: a loop of definitions triggering each other. */
  | { readonly kind: 'too_deep'; readonly depth: number; readonly limit: number }
  /**
   * The definition index could not catch up with the writes before this message (database
   * unavailable): it may miss or misjudge definitions, so the message cannot be matched now.
   */
  | { readonly kind: 'index_stale' }
  /** It matched no enabled definition. */
  | { readonly kind: 'unmatched' }
  /** Temporal accepted the start of every matched definition. */
  | { readonly kind: 'started' }
  /**
   * For some definitions the event is neither a match nor a "no": the filter failed on it (over
   * budget, a type error, a missing field, not a bool, does not compile), or a windowed
   * definition matched but could not key it (the key failed or yielded no non-empty string).
   * Temporal accepted every start and window signal of the others (there may be none).
   */
  | {
      readonly kind: 'definitions_failed';
      readonly filters: readonly FilterFailure[];
      readonly windowKeys: readonly WindowKeyFailure[];
    }
  /** Temporal refused a start or a window signal in a way no redelivery changes (see `classifyFailure`). */
  | { readonly kind: 'start_rejected'; readonly reason: string }
  /** A start failed; `unavailable` when Temporal was unreachable or overloaded. */
  | { readonly kind: 'start_failed'; readonly unavailable: boolean; readonly error: unknown }
  /** Something unexpected threw while handling it. */
  | { readonly kind: 'error' };

/** A windowed definition the event could not be keyed for. */
export interface WindowKeyFailure {
  readonly definitionKey: string;
  readonly code: string;
  readonly message: string;
}

/** Why a message was handed back (the `cause` label of `ac_ingest_naks_total`). */
export type NakCause = 'error' | 'unavailable' | 'start_error' | 'dlq_unavailable' | 'paused' | 'shutdown';

export type MessageDecision =
  | { readonly action: 'ack' }
  | { readonly action: 'nak'; readonly cause: NakCause; readonly delayMs: number; readonly pause?: string }
  | {
      readonly action: 'dead_letter';
      readonly reason: DeadLetterReason;
      readonly message: string;
      readonly field?: string | undefined;
      readonly pause?: string;
    }
  /**
   * Store copies in the DLQ, one per reason, each for the definitions it names, then ack: the
   * message was processed for every other definition. Handed back for a redelivery when a copy
   * was not stored (a copy already stored is recognised by its message id).
   */
  | { readonly action: 'dead_letter_copy'; readonly copies: readonly DeadLetterCopy[] };

/** One DLQ copy of a message, about the named definitions. */
export interface DeadLetterCopy {
  readonly reason: DeadLetterCopyReason;
  readonly message: string;
  readonly field: string;
  readonly definitions: readonly string[];
}

export interface DecisionPolicy {
  /** The consumer's `max_deliver`: a failed start on the last delivery is dead-lettered. */
  readonly maxDeliver: number;
  /** First nak delay; doubles per delivery up to `nakMaxDelayMs`. */
  readonly nakDelayMs: number;
  readonly nakMaxDelayMs: number;
  /** The jitter's source; `Math.random` unless a test fixes it. */
  readonly random?: () => number;
}

/**
 * The decision for one outcome on the given delivery. `pause` is set when consumption should
 * stop until the dependencies answer again (a message waits in the stream instead of burning
 * its deliveries). Naks carry a delay: the consumer's backoff does not apply to nak.
 */
export function decideMessage(
  outcome: MessageOutcome,
  delivery: { readonly deliveryCount: number },
  policy: DecisionPolicy,
): MessageDecision {
  const nak = (cause: NakCause, pause?: string): MessageDecision => ({
    action: 'nak',
    cause,
    delayMs: nakDelayMs(delivery.deliveryCount, policy),
    ...(pause !== undefined ? { pause } : {}),
  });
  switch (outcome.kind) {
    case 'invalid':
      return { action: 'dead_letter', reason: outcome.code, message: outcome.message, field: outcome.field };
    case 'too_deep':
      return {
        action: 'dead_letter',
        reason: 'max_depth',
        message: `causation depth ${outcome.depth} reaches the limit ${outcome.limit}`,
        field: 'causationdepth',
      };
    case 'start_rejected':
      return { action: 'dead_letter', reason: 'start_rejected', message: outcome.reason };
    case 'index_stale':
      return nak('unavailable', 'the definition index cannot catch up (database unavailable)');
    case 'unmatched':
    case 'started':
      return { action: 'ack' };
    case 'definitions_failed':
      return { action: 'dead_letter_copy', copies: definitionCopies(outcome) };
    case 'start_failed': {
      const pause = outcome.unavailable ? 'Temporal is unavailable' : undefined;
      if (delivery.deliveryCount >= policy.maxDeliver) {
        return {
          action: 'dead_letter',
          reason: 'max_deliveries',
          message: `start failed on delivery ${delivery.deliveryCount} of ${policy.maxDeliver}: ${errorText(outcome.error)}`,
          ...(pause !== undefined ? { pause } : {}),
        };
      }
      return nak(outcome.unavailable ? 'unavailable' : 'start_error', pause);
    }
    case 'error':
      return nak('error');
    default:
      return assertNever(outcome, 'message outcome');
  }
}

/** The DLQ copies of a message some definitions could not decide on: one per reason that occurred. */
function definitionCopies(outcome: Extract<MessageOutcome, { kind: 'definitions_failed' }>): DeadLetterCopy[] {
  const copies: DeadLetterCopy[] = [];
  if (outcome.filters.length > 0) {
    copies.push({
      reason: 'filter_error',
      message: outcome.filters.map((f) => `${f.key}: ${f.code}: ${f.message}`).join('; '),
      field: 'trigger.event.filter',
      definitions: outcome.filters.map((f) => f.key),
    });
  }
  if (outcome.windowKeys.length > 0) {
    // The other definitions' starts were accepted; a redrive repeats them harmlessly
    // (deterministic run ids, window events claimed once).
    copies.push({
      reason: 'window_key',
      message: outcome.windowKeys.map((f) => `${f.definitionKey}: ${f.code}: ${f.message}`).join('; '),
      field: 'trigger.event.window.key',
      definitions: outcome.windowKeys.map((f) => f.definitionKey),
    });
  }
  return copies;
}

/**
 * The redelivery delay of a nak on delivery `deliveryCount`: equal jitter under the ceiling
 * `nakDelayMs × 2^(n-1)` (capped at `nakMaxDelayMs`), so the messages nak'ed together when
 * Temporal or the DLQ went away do not all come back in the same instant.
 */
export function nakDelayMs(
  deliveryCount: number,
  policy: Omit<DecisionPolicy, 'maxDeliver'>,
  random: () => number = policy.random ?? Math.random,
): number {
  return jitteredBackoffMs(
    deliveryCount,
    { baseMs: policy.nakDelayMs, maxMs: policy.nakMaxDelayMs, floor: 0.5 },
    random,
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
