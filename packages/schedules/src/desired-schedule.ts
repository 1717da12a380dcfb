import {
  type CompileWindow,
  type CronTriggerConfig,
  compileToScheduleSpec,
  scheduledRunWorkflowIdBase,
  type TemporalScheduleSpec,
} from '@activity-core/core';
import { type DefinitionRecord, isUuid } from '@activity-core/db';
import { type ScheduledRunInput, WorkflowTypes } from '@activity-core/workflows';
import type { ScheduleOptions, ScheduleOverlapPolicy, ScheduleSpec } from '@temporalio/client';

/**
 * Every Schedule an installation owns carries its prefix, and the reconciler removes as orphans
 * only schedules with that prefix whose definition its own database lacks. Installations that
 * share a Temporal namespace (or test files sharing one server) need distinct prefixes, or they
 * would delete each other's schedules.
 */
export const SCHEDULE_ID_PREFIX = 'ac-def-';

export function scheduleIdFor(definitionId: string, prefix: string = SCHEDULE_ID_PREFIX): string {
  return `${prefix}${definitionId}`;
}

/** The definition id of one of our schedule ids; `undefined` for anything else (never ours to delete). */
export function definitionIdOf(scheduleId: string, prefix: string = SCHEDULE_ID_PREFIX): string | undefined {
  if (!scheduleId.startsWith(prefix)) return undefined;
  const rest = scheduleId.slice(prefix.length);
  return isUuid(rest) ? rest : undefined;
}

export interface ScheduleSettings {
  readonly taskQueue: string;
  /** Prefix of this installation's schedule ids (default `ac-def-`). */
  readonly scheduleIdPrefix?: string;
  /**
   * How far back Temporal still starts occurrences it missed while it was itself down
   * (minimum 10 s). Occurrences started late are then judged by the definition's misfire
   * policy and recorded; older ones are dropped by Temporal and only counted.
   */
  readonly catchupWindowMs: number;
  /**
   * The compiled spec covers whole UTC months: from `lookbackMonths` before the current month
   * (so backfills and Temporal's catch-up reach that far back) to `horizonMonths` after its
   * start. It changes when the month does, and the reconcile passes then renew it, so between
   * `horizonMonths − 1` and `horizonMonths` months always lie ahead.
   */
  readonly horizonMonths: number;
  readonly lookbackMonths: number;
  /**
   * Version of the tz data the local-time engine reads (`process.versions.tz` of this process).
   * Recorded on every Schedule; a Schedule compiled from other tz data is recompiled, except
   * that a writer with older data leaves a Schedule of the same window compiled from newer data.
   */
  readonly tzdataVersion: string;
}

/** The tz data of this process (Node's ICU): what the engine reads here. */
export const PROCESS_TZDATA_VERSION: string = process.versions.tz ?? 'unknown';

export const DEFAULT_SCHEDULE_SETTINGS: Omit<ScheduleSettings, 'taskQueue'> = {
  catchupWindowMs: 60 * 60 * 1000,
  horizonMonths: 13,
  lookbackMonths: 1,
  tzdataVersion: PROCESS_TZDATA_VERSION,
};

/** The UTC months a spec compiled at `now` covers (see {@link ScheduleSettings.horizonMonths}). */
export function compileWindowAt(
  now: Date,
  settings: Pick<ScheduleSettings, 'horizonMonths' | 'lookbackMonths'>,
): CompileWindow {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  return {
    start: new Date(Date.UTC(year, month - settings.lookbackMonths, 1)),
    end: new Date(Date.UTC(year, month + settings.horizonMonths, 1)),
  };
}

/**
 * Orders tz data versions (`2025b` < `2026c`); an unknown version is older than every known one.
 * Positive when `a` is newer.
 */
export function compareTzdata(a: string | undefined, b: string | undefined): number {
  const known = (v: string | undefined) => v !== undefined && /^\d{4}[a-z]+$/.test(v);
  if (!known(a) || !known(b)) return Number(known(a)) - Number(known(b));
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

export interface DesiredSchedule {
  readonly scheduleId: string;
  readonly definitionId: string;
  readonly version: number;
  readonly paused: boolean;
  readonly spec: ScheduleSpec;
  /** The compiled window: Temporal fires nothing after `window.end` until the spec is renewed. */
  readonly window: CompileWindow;
  readonly tzdataVersion: string;
  readonly action: ScheduleOptions['action'];
  readonly policies: { overlap: ScheduleOverlapPolicy; catchupWindow: number; pauseOnFailure: boolean };
  /** Identifies everything above except `paused`; equal fingerprints need no update. */
  readonly fingerprint: string;
}

function cronOf(definition: DefinitionRecord): CronTriggerConfig | undefined {
  return definition.spec.trigger.kind === 'cron' ? definition.spec.trigger.cron : undefined;
}

/** What a Schedule records about how it was compiled (its action memo). */
export interface ScheduleMemo {
  readonly definitionId?: string;
  readonly definitionVersion?: number;
  readonly fingerprint?: string;
  /** tz data version the engine read when compiling. */
  readonly tzdata?: string;
  /** The compiled window, ISO instants. */
  readonly horizonStart?: string;
  readonly horizonEnd?: string;
  /** The trigger in local time, for people reading the Schedule in Temporal's UI. */
  readonly cron?: string;
}

/** Compiled specs by trigger and window: a reconcile pass compiles every definition every minute. */
const compiled = new Map<string, TemporalScheduleSpec>();
const COMPILED_CACHE_SIZE = 2_000;

function compileCached(cron: CronTriggerConfig, window: CompileWindow): TemporalScheduleSpec {
  const key = JSON.stringify([cron.expression, cron.timezone, cron.dst, cron.jitterSeconds, window.start, window.end]);
  const hit = compiled.get(key);
  if (hit) return hit;
  const spec = compileToScheduleSpec(cron, window);
  if (compiled.size >= COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
  compiled.set(key, spec);
  return spec;
}

/**
 * What Temporal should hold for a definition: a Schedule for a non-archived cron definition
 * (paused while disabled), nothing otherwise. Pure, so two replicas compute the same thing.
 * The spec is compiled in UTC by the local-time engine over the window of `now`.
 */
export function desiredSchedule(
  definition: DefinitionRecord,
  settings: ScheduleSettings,
  now: Date,
): DesiredSchedule | undefined {
  const cron = cronOf(definition);
  if (!cron || definition.archivedAt !== null) return undefined;
  const window = compileWindowAt(now, settings);
  const compiledSpec = compileCached(cron, window);
  const spec: ScheduleSpec = { ...compiledSpec, calendars: compiledSpec.calendars as ScheduleSpec['calendars'] };
  const input: ScheduledRunInput = {
    definitionId: definition.id,
    trigger: { kind: 'cron', scheduleId: scheduleIdFor(definition.id, settings.scheduleIdPrefix) },
  };
  const fingerprintSource = JSON.stringify({
    spec: compiledSpec,
    taskQueue: settings.taskQueue,
    catchup: settings.catchupWindowMs,
    v: definition.version,
    tzdata: settings.tzdataVersion,
  });
  const fingerprint = fnv1a(fingerprintSource);
  const memo: ScheduleMemo = {
    definitionId: definition.id,
    definitionVersion: definition.version,
    fingerprint,
    tzdata: settings.tzdataVersion,
    horizonStart: window.start.toISOString(),
    horizonEnd: window.end.toISOString(),
    cron: `${cron.expression} ${cron.timezone} gap=${cron.dst.gap} fold=${cron.dst.fold}`,
  };
  return {
    scheduleId: scheduleIdFor(definition.id, settings.scheduleIdPrefix),
    definitionId: definition.id,
    version: definition.version,
    paused: !definition.enabled,
    spec,
    window,
    tzdataVersion: settings.tzdataVersion,
    action: {
      type: 'startWorkflow',
      workflowType: WorkflowTypes.runActivity,
      workflowId: scheduledRunWorkflowIdBase(definition.id),
      taskQueue: settings.taskQueue,
      args: [input],
      memo: { ...memo },
    },
    // Every occurrence starts its own run; the run applies the misfire policy and records
    // what it decided, so Temporal's overlap policy must not drop anything silently.
    policies: {
      overlap: 'ALLOW_ALL',
      catchupWindow: Math.max(10_000, settings.catchupWindowMs),
      pauseOnFailure: false,
    },
    fingerprint,
  };
}

/** 64-bit FNV-1a as hex: a compact change detector, not a security boundary. */
function fnv1a(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}
