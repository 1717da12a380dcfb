import { describe, expect, test } from 'vitest';
import { decideMessage, type MessageOutcome, nakDelayMs } from './message-decision.ts';

// The jitter fixed at its top: a nak waits its whole ceiling (less 1 ms of rounding).
const policy = { maxDeliver: 5, nakDelayMs: 1000, nakMaxDelayMs: 60_000, random: () => 0.999999 };
const on = (deliveryCount: number) => ({ deliveryCount });

describe('what happens to a message, per outcome', () => {
  test('an invalid event is dead-lettered with its normalization code and field', () => {
    const outcome: MessageOutcome = { kind: 'invalid', code: 'invalid_json', message: 'bad', field: 'data' };
    expect(decideMessage(outcome, on(1), policy)).toEqual({
      action: 'dead_letter',
      reason: 'invalid_json',
      message: 'bad',
      field: 'data',
    });
  });

  test('an event at the causation limit is dead-lettered as max_depth', () => {
    expect(decideMessage({ kind: 'too_deep', depth: 8, limit: 8 }, on(1), policy)).toEqual({
      action: 'dead_letter',
      reason: 'max_depth',
      message: 'causation depth 8 reaches the limit 8',
      field: 'causationdepth',
    });
  });

  test('a start Temporal refused for good is dead-lettered once, on the first delivery, as start_rejected', () => {
    expect(decideMessage({ kind: 'start_rejected', reason: 'too big' }, on(1), policy)).toEqual({
      action: 'dead_letter',
      reason: 'start_rejected',
      message: 'too big',
    });
  });

  test('matched-and-started and unmatched events are acked', () => {
    expect(decideMessage({ kind: 'started' }, on(3), policy)).toEqual({ action: 'ack' });
    expect(decideMessage({ kind: 'unmatched' }, on(1), policy)).toEqual({ action: 'ack' });
  });

  const filterFailures = [
    { id: 'd1', version: 2, key: 'nested', code: 'budget' as const, message: 'over its budget of 1000000' },
    { id: 'd2', version: 1, key: 'typed', code: 'evaluation' as const, message: 'no such key: region' },
  ];
  const filterCopy = {
    reason: 'filter_error',
    message: 'nested: budget: over its budget of 1000000; typed: evaluation: no such key: region',
    field: 'trigger.event.filter',
    definitions: ['nested', 'typed'],
  };
  const keyFailures = [
    { definitionKey: 'digest', code: 'not_string', message: 'the window key must be a string, got number' },
    { definitionKey: 'pairs', code: 'evaluation', message: 'No such key: orderId' },
  ];
  const keyCopy = {
    reason: 'window_key',
    message: 'digest: not_string: the window key must be a string, got number; pairs: evaluation: No such key: orderId',
    field: 'trigger.event.window.key',
    definitions: ['digest', 'pairs'],
  };

  test('filters that failed on an event park a copy for those definitions only, then ack, on any delivery', () => {
    const outcome: MessageOutcome = { kind: 'definitions_failed', filters: filterFailures, windowKeys: [] };
    const copy = { action: 'dead_letter_copy', copies: [filterCopy] };
    expect(decideMessage(outcome, on(1), policy)).toEqual(copy);
    // Not a failed delivery: the last one parks the same copy, never a max_deliveries letter.
    expect(decideMessage(outcome, on(5), policy)).toEqual(copy);
  });

  test('an event a windowed definition cannot key parks a window_key copy naming the definitions', () => {
    const outcome: MessageOutcome = { kind: 'definitions_failed', filters: [], windowKeys: keyFailures };
    expect(decideMessage(outcome, on(1), policy)).toEqual({ action: 'dead_letter_copy', copies: [keyCopy] });
  });

  test('failing filters and failing window keys on one event park one copy per reason', () => {
    const outcome: MessageOutcome = { kind: 'definitions_failed', filters: filterFailures, windowKeys: keyFailures };
    expect(decideMessage(outcome, on(1), policy)).toEqual({
      action: 'dead_letter_copy',
      copies: [filterCopy, keyCopy],
    });
  });

  test('an index that cannot catch up naks and pauses: it must not ack events as unmatched', () => {
    expect(decideMessage({ kind: 'index_stale' }, on(2), policy)).toEqual({
      action: 'nak',
      cause: 'unavailable',
      delayMs: 1999,
      pause: 'the definition index cannot catch up (database unavailable)',
    });
  });

  test('a failed start naks with a growing delay; Temporal unavailable also pauses', () => {
    const refused: MessageOutcome = { kind: 'start_failed', unavailable: false, error: new Error('refused') };
    const down: MessageOutcome = { kind: 'start_failed', unavailable: true, error: new Error('UNAVAILABLE') };
    expect(decideMessage(refused, on(1), policy)).toEqual({ action: 'nak', cause: 'start_error', delayMs: 999 });
    expect(decideMessage(down, on(3), policy)).toEqual({
      action: 'nak',
      cause: 'unavailable',
      delayMs: 3999,
      pause: 'Temporal is unavailable',
    });
  });

  test('a start that fails on the last delivery is dead-lettered as max_deliveries, with the error', () => {
    const refused: MessageOutcome = { kind: 'start_failed', unavailable: false, error: new Error('refused') };
    expect(decideMessage(refused, on(5), policy)).toEqual({
      action: 'dead_letter',
      reason: 'max_deliveries',
      message: 'start failed on delivery 5 of 5: refused',
    });
    const down: MessageOutcome = { kind: 'start_failed', unavailable: true, error: 'timeout' };
    expect(decideMessage(down, on(6), policy)).toMatchObject({
      action: 'dead_letter',
      reason: 'max_deliveries',
      message: 'start failed on delivery 6 of 5: timeout',
      pause: 'Temporal is unavailable',
    });
  });

  test('an unexpected error naks for a redelivery', () => {
    expect(decideMessage({ kind: 'error' }, on(1), policy)).toEqual({ action: 'nak', cause: 'error', delayMs: 999 });
  });

  test('the nak delay doubles per delivery up to its cap', () => {
    expect([1, 2, 3, 6, 7, 40].map((n) => nakDelayMs(n, policy))).toEqual([999, 1999, 3999, 31_999, 59_999, 59_999]);
    expect([1, 2, 3, 6, 7, 40].map((n) => nakDelayMs(n, policy, () => 0))).toEqual([
      500, 1000, 2000, 16_000, 30_000, 30_000,
    ]);
  });
});
