import {
  type ActivityDefinitionSpec,
  assertNever,
  type EventEnvelope,
  eventKey,
  normalizeMessage,
  type PlannedTask,
  replayTriggerKey,
} from '@activity-core/core';
import type { RunActivityInput } from '@activity-core/workflows';
import type { ApiDeps } from './context.ts';
import { type EvaluationTarget, evaluateEvent, staticContext } from './evaluate.ts';

/** How many planned-task samples and error samples a result carries at most. */
const MAX_ERROR_SAMPLES = 10;
/** Starts of a replay sent at once. */
const START_CONCURRENCY = 8;
/** Events of a replay checked against the runs table together. */
const REPLAY_BATCH = 100;

export interface BacktestWindow {
  readonly from: Date;
  readonly to: Date;
  readonly subject?: string;
  /** Continue after this stream sequence (a truncated result's `lastSeq`). */
  readonly afterSeq?: number;
  /** Most messages read. */
  readonly limit: number;
}

export interface BacktestOptions extends BacktestWindow {
  readonly spec: ActivityDefinitionSpec;
  /** The saved definition and version, or `{ id: 'backtest', version: 0 }` for an unsaved spec. */
  readonly target: EvaluationTarget;
  readonly saved: boolean;
  /** Values for the context sources a backtest does not call (http, previousRun, openTasks, custom). */
  readonly context: Record<string, unknown>;
  readonly sampleSize: number;
  readonly now: string;
}

export interface BacktestSample {
  readonly seq: number;
  readonly time: string;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly tasks: PlannedTask[];
}

/**
 * What a definition would have done with the events stored in a window. Every event read is
 * counted exactly once: `events = rejected.type + rejected.source + rejected.filter +
 * errors.filter + errors.windowKey + matched`, and of the matched ones (each would have started
 * a run) `matched = rejected.rule + errors.plan + noTasks + spawning`.
 *
 * A definition with an event window is judged per event as well: `errors.windowKey` counts the
 * events its trigger accepts but its window key fails on (ingest parks them as `window_key`),
 * `matched` the events that would join a window, and each is planned as a window of one (as
 * `definitions.dryRun` does). Windows themselves are not re-formed: they depend on arrival times.
 */
export interface BacktestResult {
  readonly definition: { readonly id: string | null; readonly key: string; readonly version: number | null };
  readonly window: { readonly from: string; readonly to: string; readonly subject: string };
  /** Messages read from the stream. */
  readonly scanned: number;
  /** Messages whose event (source + id) was already read in this window: redeliveries, redrives, repeats. */
  readonly duplicates: number;
  /** Messages ingest would dead-letter (normalization errors, causation depth), by reason. */
  readonly invalid: { readonly count: number; readonly byReason: Record<string, number> };
  /** Distinct valid events evaluated. */
  readonly events: number;
  readonly rejected: { readonly type: number; readonly source: number; readonly filter: number; readonly rule: number };
  readonly errors: {
    readonly filter: number;
    /** Windowed definitions: accepted events the window key fails on (see above). */
    readonly windowKey: number;
    readonly plan: number;
    /**
     * `code`: the filter's `errorCode` (`budget`, `evaluation`, `not_bool`, …), the window key's
     * (`evaluation`, `budget`, `not_string`, `empty`, `too_long`) or the plan error's code.
     */
    readonly samples: Array<{
      seq: number;
      stage: 'filter' | 'window_key' | 'plan';
      code: string;
      path: string;
      message: string;
    }>;
  };
  /** Events the trigger accepts: each would have started a run. */
  readonly matched: number;
  /** Matched, every rule held, but the templates planned no task (`when`, empty `forEach`). */
  readonly noTasks: number;
  /** Matched and would have spawned tasks. */
  readonly spawning: number;
  readonly tasksPlanned: number;
  /** Of the matched events, those a saved definition already ran live (`run:{definitionId}:{eventKey}`); null for an unsaved one. */
  readonly alreadyRun: number | null;
  /** Context sources not called; rules and templates saw only the stand-ins given for them. */
  readonly unresolvedSources: string[];
  readonly sample: BacktestSample[];
  /** True when `limit` messages were read before the window's end; continue with `afterSeq = lastSeq`. */
  readonly truncated: boolean;
  readonly lastSeq: number | null;
}

interface Matched {
  readonly seq: number;
  readonly envelope: EventEnvelope;
  readonly key: string;
}

/**
 * Reads the window's stored events and runs each through the definition as ingest and the run
 * would: normalization, loop protection, the trigger, then rules and templates over the static
 * context and the given stand-ins. `onMatched` sees each matched event in stream order (in
 * batches), which is where a replay starts its runs.
 */
async function scan(
  deps: ApiDeps,
  options: BacktestOptions,
  onMatched?: (batch: Matched[]) => Promise<void>,
): Promise<BacktestResult> {
  const seen = new Set<string>();
  const invalidByReason: Record<string, number> = {};
  const rejected = { type: 0, source: 0, filter: 0, rule: 0 };
  const errors = { filter: 0, windowKey: 0, plan: 0, samples: [] as BacktestResult['errors']['samples'] };
  const sample: BacktestSample[] = [];
  const statics = staticContext(options.spec);
  const unresolvedSources = statics.unresolved.filter((name) => !(name in options.context));
  const context = { ...statics.context, ...options.context };
  let scanned = 0;
  let duplicates = 0;
  let invalid = 0;
  let matched = 0;
  let noTasks = 0;
  let spawning = 0;
  let tasksPlanned = 0;
  let lastSeq: number | null = null;
  let truncated = false;
  const matchedKeys: string[] = [];
  let batch: Matched[] = [];
  const settings = deps.eventSettings;

  for await (const stored of deps.readStoredEvents({
    from: options.from,
    to: options.to,
    ...(options.subject !== undefined ? { subject: options.subject } : {}),
    ...(options.afterSeq !== undefined ? { afterSeq: options.afterSeq } : {}),
  })) {
    if (scanned >= options.limit) {
      truncated = true;
      break;
    }
    scanned++;
    lastSeq = stored.seq;
    const normalized = normalizeMessage(stored.message, {
      defaultSource: settings.defaultSource,
      maxPayloadBytes: settings.maxPayloadBytes,
      subjectPrefix: deps.topology.events.subjectPrefix,
    });
    if (!normalized.ok) {
      invalid++;
      invalidByReason[normalized.error.code] = (invalidByReason[normalized.error.code] ?? 0) + 1;
      continue;
    }
    const envelope = normalized.envelope;
    if (envelope.causationdepth >= settings.maxCausationDepth) {
      invalid++;
      invalidByReason.max_depth = (invalidByReason.max_depth ?? 0) + 1;
      continue;
    }
    const key = eventKey(envelope);
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    const result = evaluateEvent(options.spec, options.target, envelope, {
      context,
      now: options.now,
      limits: deps.expressionLimits,
      planUnmatched: false,
    });
    if (!result.match.matched) {
      switch (result.match.reason) {
        case 'type':
        case 'trigger_kind':
        case null:
          rejected.type++;
          break;
        case 'source':
          rejected.source++;
          break;
        case 'filter':
          rejected.filter++;
          break;
        case 'filter_error':
          errors.filter++;
          if (errors.samples.length < MAX_ERROR_SAMPLES) {
            errors.samples.push({
              seq: stored.seq,
              stage: 'filter',
              code: result.match.errorCode ?? 'evaluation',
              path: 'trigger.event.filter',
              message: result.match.detail ?? '',
            });
          }
          break;
        default:
          assertNever(result.match.reason);
      }
      continue;
    }
    if (result.window !== null && 'error' in result.window) {
      errors.windowKey++;
      if (errors.samples.length < MAX_ERROR_SAMPLES) {
        errors.samples.push({
          seq: stored.seq,
          stage: 'window_key',
          code: result.window.code,
          path: 'trigger.event.window.key',
          message: result.window.error,
        });
      }
      continue;
    }
    matched++;
    matchedKeys.push(key);
    if (onMatched) {
      batch.push({ seq: stored.seq, envelope, key });
      if (batch.length >= REPLAY_BATCH) {
        await onMatched(batch);
        batch = [];
      }
    }
    if (result.planError) {
      errors.plan++;
      if (errors.samples.length < MAX_ERROR_SAMPLES) {
        errors.samples.push({
          seq: stored.seq,
          stage: 'plan',
          code: result.planError.code,
          path: result.planError.path,
          message: result.planError.message,
        });
      }
    } else if (!result.rules.every((r) => r.result)) rejected.rule++;
    else if (result.tasks.length === 0) noTasks++;
    else {
      spawning++;
      tasksPlanned += result.tasks.length;
      if (sample.length < options.sampleSize) {
        sample.push({
          seq: stored.seq,
          time: stored.time.toISOString(),
          id: envelope.id,
          type: envelope.type,
          source: envelope.source,
          tasks: result.tasks,
        });
      }
    }
  }
  if (onMatched && batch.length > 0) await onMatched(batch);

  let alreadyRun: number | null = null;
  if (options.saved) {
    const runs = await deps.db
      .selectFrom('runs')
      .select('trigger_key')
      .where('definition_id', '=', options.target.id)
      .where('trigger_key', 'in', matchedKeys.length > 0 ? matchedKeys : [''])
      .execute();
    alreadyRun = runs.length;
  }
  return {
    definition: options.saved
      ? { id: options.target.id, key: options.target.key, version: options.target.version }
      : { id: null, key: options.target.key, version: null },
    window: {
      from: options.from.toISOString(),
      to: options.to.toISOString(),
      subject: options.subject ?? `${deps.topology.events.subjectPrefix}>`,
    },
    scanned,
    duplicates,
    invalid: { count: invalid, byReason: invalidByReason },
    events: seen.size,
    rejected,
    errors,
    matched,
    noTasks,
    spawning,
    tasksPlanned,
    alreadyRun,
    unresolvedSources,
    sample,
    truncated,
    lastSeq,
  };
}

/** See {@link BacktestResult}. Starts nothing and writes nothing. */
export function backtest(deps: ApiDeps, options: BacktestOptions): Promise<BacktestResult> {
  return scan(deps, options);
}

export interface ReplayResult extends BacktestResult {
  readonly replayKey: string;
  /** Runs started by this call. */
  readonly started: number;
  /** Matched events the definition had already run live (`run:{definitionId}:{eventKey}`): not replayed. */
  readonly skippedLive: number;
  /** Matched events already replayed under this replay key: nothing new started. */
  readonly alreadyReplayed: number;
  readonly failed: Array<{ seq: number; error: string }>;
}

/**
 * Backtest, then start a run for every matched event, as ingest would have: run workflow id
 * `run:{definitionId}:replay:{replayKey}:{eventKey}`, so a second replay under the same key
 * starts nothing new, and events this definition already ran live are skipped. Rules and
 * context are then decided by each run, with its real context sources.
 */
export async function replay(
  deps: ApiDeps,
  options: BacktestOptions & { readonly replayKey: string },
): Promise<ReplayResult> {
  let started = 0;
  let skippedLive = 0;
  let alreadyReplayed = 0;
  const failed: Array<{ seq: number; error: string }> = [];
  const definitionId = options.target.id;
  const replayed = (key: string): string => replayTriggerKey(options.replayKey, key);
  const result = await scan(deps, options, async (batch) => {
    const keys = batch.flatMap((m) => [m.key, replayed(m.key)]);
    const existing = new Set(
      (
        await deps.db
          .selectFrom('runs')
          .select('trigger_key')
          .where('definition_id', '=', definitionId)
          .where('trigger_key', 'in', keys)
          .execute()
      ).map((r) => r.trigger_key),
    );
    const todo: Matched[] = [];
    for (const m of batch) {
      if (existing.has(m.key)) skippedLive++;
      else if (existing.has(replayed(m.key))) alreadyReplayed++;
      else todo.push(m);
    }
    for (let i = 0; i < todo.length; i += START_CONCURRENCY) {
      await Promise.all(
        todo.slice(i, i + START_CONCURRENCY).map(async (m) => {
          const input: RunActivityInput = {
            definitionId,
            version: options.target.version,
            trigger: { kind: 'event', envelope: m.envelope, replayKey: options.replayKey },
          };
          try {
            const { started: isNew } = await deps.startRun(input);
            if (isNew) started++;
            else alreadyReplayed++;
          } catch (error) {
            deps.logger.warn('replay start failed', { definitionId, seq: m.seq, error });
            failed.push({ seq: m.seq, error: error instanceof Error ? error.message : String(error) });
          }
        }),
      );
    }
  });
  return { ...result, replayKey: options.replayKey, started, skippedLive, alreadyReplayed, failed };
}
