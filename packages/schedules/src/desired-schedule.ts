import { type CronTriggerConfig, compileToScheduleSpec, scheduledRunWorkflowIdBase } from '@activity-core/core';
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
  /** Years of DST fix-ups compiled into the spec; the reconciler re-compiles every year. */
  readonly horizonYears: number;
}

export const DEFAULT_SCHEDULE_SETTINGS: Omit<ScheduleSettings, 'taskQueue'> = {
  catchupWindowMs: 60 * 60 * 1000,
  horizonYears: 10,
};

export interface DesiredSchedule {
  readonly scheduleId: string;
  readonly definitionId: string;
  readonly version: number;
  readonly paused: boolean;
  readonly spec: ScheduleSpec;
  readonly action: ScheduleOptions['action'];
  readonly policies: { overlap: ScheduleOverlapPolicy; catchupWindow: number; pauseOnFailure: boolean };
  /** Identifies everything above except `paused`; equal fingerprints need no update. */
  readonly fingerprint: string;
}

function cronOf(definition: DefinitionRecord): CronTriggerConfig | undefined {
  return definition.spec.trigger.kind === 'cron' ? definition.spec.trigger.cron : undefined;
}

/**
 * What Temporal should hold for a definition: a Schedule for a non-archived cron definition
 * (paused while disabled), nothing otherwise. Pure, so two replicas compute the same thing.
 */
export function desiredSchedule(
  definition: DefinitionRecord,
  settings: ScheduleSettings,
  now: Date,
): DesiredSchedule | undefined {
  const cron = cronOf(definition);
  if (!cron || definition.archivedAt !== null) return undefined;
  const fromYear = now.getUTCFullYear();
  const compiled = compileToScheduleSpec(cron, { fromYear, toYear: fromYear + settings.horizonYears });
  const spec = compiled as unknown as ScheduleSpec;
  const input: ScheduledRunInput = {
    definitionId: definition.id,
    trigger: { kind: 'cron', scheduleId: scheduleIdFor(definition.id, settings.scheduleIdPrefix) },
  };
  const fingerprintSource = JSON.stringify({
    spec: compiled,
    taskQueue: settings.taskQueue,
    catchup: settings.catchupWindowMs,
    v: definition.version,
  });
  const fingerprint = fnv1a(fingerprintSource);
  return {
    scheduleId: scheduleIdFor(definition.id, settings.scheduleIdPrefix),
    definitionId: definition.id,
    version: definition.version,
    paused: !definition.enabled,
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: WorkflowTypes.runActivity,
      workflowId: scheduledRunWorkflowIdBase(definition.id),
      taskQueue: settings.taskQueue,
      args: [input],
      memo: { definitionId: definition.id, definitionVersion: definition.version, fingerprint },
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
