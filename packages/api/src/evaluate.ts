import {
  type ActivityDefinitionSpec,
  buildMatcher,
  type EventEnvelope,
  type ExpressionLimits,
  eventKey,
  type MatchableDefinition,
  matchesSourcePattern,
  matchesTypePattern,
  type PlannedTask,
  planTasks,
  windowVariables,
} from '@activity-core/core';

/** Which check of an event trigger said no (the first failing one, in this order). */
export type MatchReason = 'trigger_kind' | 'type' | 'source' | 'filter' | 'filter_error';

/** One check of an event trigger, judged on its own: `null` = not configured (passes). */
export interface TriggerCheck {
  readonly check: 'type' | 'source' | 'filter';
  readonly passed: boolean | null;
  readonly detail: string;
}

export interface EventEvaluation {
  readonly match: {
    readonly matched: boolean;
    readonly reason: MatchReason | null;
    readonly detail: string | null;
    /**
     * With `filter_error`, the check that failed: `budget` (over the evaluation budget),
     * `evaluation` (a type error, a missing field…), `not_bool`, or a compile code; null otherwise.
     */
    readonly errorCode: string | null;
    /** Cost units the filter was charged, and the budget it ran under (null when no filter ran). */
    readonly cost: number | null;
    readonly budget: number | null;
  };
  /** Every check with its own verdict, also those after the first that failed. */
  readonly checks: TriggerCheck[];
  /**
   * Windowed definitions whose trigger matched: the event's window key as ingest computes it
   * (the matcher's verdict, under the definition's budget), or why it has none (`code`:
   * `evaluation`, `budget`, `not_string`, `empty`, `too_long`; ingest parks such an event as
   * `window_key`). Null for definitions without a window, and for events the trigger rejects.
   * The event is planned as a window of one (`events: [event]`, `window.count` 1, reason `closed`).
   */
  readonly window: { readonly key: string } | { readonly error: string; readonly code: string } | null;
  /** Rule results and planned tasks when planning ran (it runs for every event, matched or not). */
  readonly rules: Array<{ name: string; result: boolean }>;
  readonly tasks: PlannedTask[];
  readonly planError: { code: string; path: string; message: string } | null;
  /** True when the trigger matches, every rule holds and at least one task is planned. */
  readonly wouldTrigger: boolean;
}

export interface EvaluationTarget {
  readonly id: string;
  readonly key: string;
  readonly version: number;
}

/**
 * What a definition would do with one event, without calling anything: the trigger's checks
 * (type patterns, source glob, CEL filter, as ingest's matcher applies them), then the rules and
 * task templates over `context` (the static sources, plus any stand-ins the caller gives for the
 * others). Filters, rules and templates run under the installation's `limits` and the
 * definition's `limits.maxExpressionCost`, as in ingest and the run. The shared core of
 * `definitions.dryRun`, `backtest` and `replay`.
 */
export function evaluateEvent(
  spec: ActivityDefinitionSpec,
  definition: EvaluationTarget,
  envelope: EventEnvelope,
  options: {
    readonly context: Record<string, unknown>;
    readonly now: string;
    /** The installation's expression limits (default: core's defaults), as ingest and the worker use them. */
    readonly limits?: ExpressionLimits | undefined;
    /** Plan rules and tasks also when the trigger does not match (dry runs do; backtests need not). Default true. */
    readonly planUnmatched?: boolean;
  },
): EventEvaluation {
  let match: EventEvaluation['match'];
  const checks: TriggerCheck[] = [];
  let window: EventEvaluation['window'] = null;
  let windowVars: Record<string, unknown> | undefined;
  if (spec.trigger.kind !== 'event') {
    match = {
      matched: false,
      reason: 'trigger_kind',
      detail: `a ${spec.trigger.kind} trigger does not react to events`,
      errorCode: null,
      cost: null,
      budget: null,
    };
  } else {
    const trigger = spec.trigger.event;
    const limits = options.limits ? { limits: options.limits } : {};
    const matchable = (t: MatchableDefinition['trigger']): MatchableDefinition => ({
      ...definition,
      trigger: t,
      ...(spec.limits.maxExpressionCost !== undefined ? { maxExpressionCost: spec.limits.maxExpressionCost } : {}),
    });
    const matcher = buildMatcher([matchable(trigger)], limits);
    const [explained] = matcher.explain(envelope);
    if (explained?.matched && trigger.window !== undefined) {
      // The key exactly as ingest gets it: from the matcher's verdict.
      const keyed = matcher.match(envelope).matched[0]?.window;
      if (keyed?.ok) {
        window = { key: keyed.key };
        windowVars = windowVariables({
          key: keyed.key,
          keyHash: keyed.keyHash,
          mode: trigger.window.mode,
          openingEventKey: eventKey(envelope),
          openedAt: options.now,
          closedAt: options.now,
          reason: 'closed',
          count: 1,
          stored: 1,
          duplicates: 0,
        });
      } else if (keyed) window = { error: keyed.message, code: keyed.code };
    }
    match = {
      matched: explained?.matched ?? false,
      reason: explained?.reason ?? null,
      detail: explained?.detail ?? null,
      errorCode: explained?.errorCode ?? null,
      cost: explained?.cost ?? null,
      budget: explained?.budget ?? null,
    };
    const typeOk = trigger.types.some((p) => matchesTypePattern(p, envelope.type));
    checks.push({
      check: 'type',
      passed: typeOk,
      detail: `${envelope.type} ${typeOk ? 'matches' : 'matches none of'} ${trigger.types.join(', ')}`,
    });
    if (trigger.source === undefined) checks.push({ check: 'source', passed: null, detail: 'no source pattern' });
    else {
      const ok = matchesSourcePattern(trigger.source, envelope.source);
      checks.push({
        check: 'source',
        passed: ok,
        detail: `${envelope.source} ${ok ? 'matches' : 'does not match'} ${trigger.source}`,
      });
    }
    if (trigger.filter === undefined) checks.push({ check: 'filter', passed: null, detail: 'no filter' });
    else {
      // The filter alone: the same matcher with a pattern every type matches and no source.
      const [filterOnly] = buildMatcher([matchable({ types: ['>'], filter: trigger.filter })], limits).explain(
        envelope,
      );
      checks.push({
        check: 'filter',
        passed: filterOnly?.matched ?? false,
        detail: filterOnly?.matched ? `${trigger.filter} is true` : (filterOnly?.detail ?? 'filter returned false'),
      });
    }
  }
  if (!match.matched && options.planUnmatched === false) {
    return { match, checks, window, rules: [], tasks: [], planError: null, wouldTrigger: false };
  }
  const planned = planTasks({
    spec,
    event: envelope,
    ...(windowVars ? { events: [envelope], window: windowVars } : {}),
    context: options.context,
    trigger: { kind: 'event', eventKey: eventKey(envelope) },
    definition,
    now: options.now,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const rules = planned.ok ? planned.plan.rules : [];
  const tasks = planned.ok ? planned.plan.tasks : [];
  const keyed = window === null || 'key' in window;
  return {
    match,
    checks,
    window,
    rules,
    tasks,
    planError: planned.ok ? null : { ...planned.error },
    wouldTrigger: match.matched && keyed && planned.ok && rules.every((r) => r.result) && tasks.length > 0,
  };
}

/** The static context sources' values, and the names of the others (which only a real run resolves). */
export function staticContext(spec: ActivityDefinitionSpec): {
  context: Record<string, unknown>;
  unresolved: string[];
} {
  const context: Record<string, unknown> = {};
  const unresolved: string[] = [];
  for (const source of spec.contextSources) {
    if (source.kind === 'static') context[source.name] = source.value;
    else unresolved.push(source.name);
  }
  return { context, unresolved };
}
