import type { CronTriggerConfig, MisfireConfig } from './cron.ts';
import { cronSchedule, nextOccurrences } from './cron-engine.ts';
import { assertNever } from './errors.ts';

export type MisfireDecision =
  | { action: 'run'; lateBySeconds: number }
  | { action: 'skip'; reason: 'late' | 'catch_up_cap'; lateBySeconds: number }
  | { action: 'coalesce'; reason: 'newer_occurrence_due'; lateBySeconds: number };

export interface MisfireInput extends MisfireConfig {
  /** The occurrence's nominal time (Temporal's scheduled time, before jitter). */
  nominalTime: Date;
  /** When the run workflow actually started handling it. */
  actualTime: Date;
  /** Jitter applied by the schedule; lateness is measured after it. Default 0. */
  jitterSeconds?: number;
  /**
   * The schedule's next occurrences after `nominalTime`, oldest first, at least
   * `maxCatchUp` of them (the engine's: `nextOccurrences(cronSchedule(config), nominal, maxCatchUp)`).
   * Those at or before `actualTime` are "already due": they tell fire_once and fire_all
   * whether this occurrence is the newest of a late streak.
   */
  followingTimes?: readonly Date[];
}

/**
 * Decides what a (possibly late) cron occurrence does. Pure; the workflow records the result.
 *
 * - On time (started within `graceSeconds` + jitter of the nominal time): `run`.
 * - `skip`: every late occurrence is skipped.
 * - `fire_once`: a late occurrence runs only if no newer occurrence is already due;
 *   otherwise it is coalesced into the newest one.
 * - `fire_all`: every late occurrence runs, except that of a late streak only the newest
 *   `maxCatchUp` run; older ones are skipped with `catch_up_cap`.
 */
export function decideMisfire(input: MisfireInput): MisfireDecision {
  const lateMs = input.actualTime.getTime() - input.nominalTime.getTime() - (input.jitterSeconds ?? 0) * 1000;
  const lateBySeconds = Math.max(0, Math.floor(lateMs / 1000));
  if (lateMs <= input.graceSeconds * 1000) return { action: 'run', lateBySeconds };
  const alreadyDue = (input.followingTimes ?? []).filter(
    (t) => t.getTime() > input.nominalTime.getTime() && t.getTime() <= input.actualTime.getTime(),
  ).length;
  switch (input.policy) {
    case 'skip':
      return { action: 'skip', reason: 'late', lateBySeconds };
    case 'fire_once':
      return alreadyDue > 0
        ? { action: 'coalesce', reason: 'newer_occurrence_due', lateBySeconds }
        : { action: 'run', lateBySeconds };
    case 'fire_all':
      return alreadyDue >= input.maxCatchUp
        ? { action: 'skip', reason: 'catch_up_cap', lateBySeconds }
        : { action: 'run', lateBySeconds };
    default:
      return assertNever(input.policy, 'misfire policy');
  }
}

/**
 * {@link decideMisfire} with the following occurrences from the local-time engine, DST policy
 * included, so "a newer occurrence is already due" means one the Schedule really fires.
 */
export function decideMisfireForSchedule(
  config: CronTriggerConfig,
  nominalTime: Date,
  actualTime: Date,
): MisfireDecision {
  const followingTimes = nextOccurrences(cronSchedule(config), nominalTime.getTime(), config.misfire.maxCatchUp).map(
    (o) => new Date(o.at),
  );
  return decideMisfire({
    ...config.misfire,
    nominalTime,
    actualTime,
    jitterSeconds: config.jitterSeconds,
    followingTimes,
  });
}
