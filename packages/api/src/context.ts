import type { ExpressionLimits } from '@activity-core/core';
import type { Database } from '@activity-core/db';
import type {
  DeadLetterDetail,
  DeadLetterPage,
  ListDeadLettersOptions,
  StoredEvent,
  StoredEventsOptions,
} from '@activity-core/ingest';
import type { Topology } from '@activity-core/messaging';
import type { Logger } from '@activity-core/runtime';
import type { ReconcileOutcome, ScheduleState } from '@activity-core/schedules';
import type {
  CloseWindowRequest,
  CloseWindowResult,
  RunActivityInput,
  TaskActionInput,
} from '@activity-core/workflows';
import type { Tracer } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import type { RateLimiter } from './rate-limit.ts';
import type { Principal } from './scopes.ts';

/** What a definition change was, for the schedule reconciler. */
export type DefinitionChange = 'created' | 'updated' | 'enabled' | 'disabled' | 'archived';

export interface PublishedEvent {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate: boolean;
}

export interface RedriveInput {
  /** Only dead letters whose original subject matches this NATS subject filter (default: all). */
  readonly subject?: string;
  /** Only dead letters with this reason code (`Ac-Dlq-Reason`). */
  readonly reason?: string;
  /** At most this many messages. */
  readonly limit: number;
  /** Only dead letters in this DLQ sequence range (inclusive). */
  readonly fromSeq?: number;
  readonly toSeq?: number;
}

/** How ingest reads events, which a backtest must read the same way (ingest's settings of the same names). */
export interface EventSettings {
  /** `AC_INGEST_DEFAULT_SOURCE`: the `source` of plain JSON events. */
  readonly defaultSource: string;
  /** `AC_INGEST_MAX_PAYLOAD_BYTES`: larger messages are dead-lettered. */
  readonly maxPayloadBytes: number;
  /** `AC_MAX_CAUSATION_DEPTH`: events at this depth are dead-lettered. */
  readonly maxCausationDepth: number;
}

export interface RedriveResult {
  readonly scanned: number;
  readonly redriven: number;
  readonly failed: ReadonlyArray<{ readonly seq: number; readonly error: string }>;
}

/**
 * Everything the procedures touch, passed in so the router stays free of process wiring.
 * `services/api` builds the real one; the Temporal- and NATS-facing members are small
 * functions so each can be swapped (or left a no-op) without touching the router.
 */
export interface ApiDeps {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** activity-core's tracer when the service traces (OTEL_*): a span per procedure. Absent: no span code runs. */
  readonly tracer?: Tracer | undefined;
  /** `AC_API_TOKEN`: an admin token that needs no row. Absent: only stored tokens work. */
  readonly bootstrapToken?: string | undefined;
  readonly rateLimiter: RateLimiter;
  readonly topology: Topology;
  /** JetStream publish with `Nats-Msg-Id` = `msgID`. */
  publish(
    subject: string,
    data: Uint8Array,
    options: { msgID: string; headers?: Record<string, string> },
  ): Promise<PublishedEvent>;
  /** Largest message the NATS server accepts. */
  maxPayloadBytes(): number;
  /** Starts RunActivityWorkflow for a trigger (idempotent on the trigger's workflow id). */
  startRun(input: RunActivityInput): Promise<{ workflowId: string; started: boolean }>;
  /**
   * Closes (`close`) or discards (`discard`) a waiting event window through its key's
   * EventWindowWorkflow; resolves once it is closed. `WindowConflictError` when it is not open.
   */
  closeWindow(
    window: { readonly definitionId: string; readonly keyHash: string },
    request: CloseWindowRequest,
  ): Promise<CloseWindowResult>;
  /** Completes / cancels a task through its TaskInstanceWorkflow. */
  completeTask(taskWorkflowId: string, input: TaskActionInput): Promise<unknown>;
  cancelTask(taskWorkflowId: string, input: TaskActionInput): Promise<unknown>;
  /** Moves dead letters from `AC_DLQ` back to `AC_EVENTS` (ingest's redrive). */
  redriveDeadLetters(input: RedriveInput): Promise<RedriveResult>;
  /** Reads `AC_DLQ` (ingest's dead-letter reader). */
  readonly deadLetters: {
    list(options: ListDeadLettersOptions): Promise<DeadLetterPage>;
    get(seq: number): Promise<DeadLetterDetail | null>;
  };
  /** The events stored in `AC_EVENTS` in a window, without touching any consumer (ingest's reader). */
  readStoredEvents(options: StoredEventsOptions): AsyncIterable<StoredEvent>;
  readonly eventSettings: EventSettings;
  /**
   * Hook point for the schedule reconciler: called after a definition is created, updated,
   * enabled/disabled or archived (after the write committed). No-op by default.
   */
  onDefinitionChanged(definitionId: string, change: DefinitionChange): Promise<void>;
  /** The Temporal Schedule of a cron definition (see @activity-core/schedules). */
  readonly schedules: ScheduleOperations;
  readonly now?: () => Date;
  /** CEL budget and input limits (AC_CEL_*, AC_INPUT_*) definitions are validated and dry-run with. */
  readonly expressionLimits?: ExpressionLimits;
}

/** Operations on the Schedule of a cron definition. Pause and resume are `definitions.setEnabled`. */
export interface ScheduleOperations {
  describe(definitionId: string): Promise<ScheduleState>;
  /** Starts one occurrence now. */
  trigger(definitionId: string): Promise<void>;
  /** Replays the occurrences of a past range; the definition's misfire policy judges each. */
  backfill(definitionId: string, range: { start: Date; end: Date }): Promise<void>;
  /** Brings the Schedule in line with the database now. */
  reconcile(definitionId: string): Promise<ReconcileOutcome>;
}

export interface ApiContext {
  readonly deps: ApiDeps;
  /** The raw `Authorization` header, verified lazily by the auth middleware. */
  readonly authorization: string | undefined;
  /** Set by the auth middleware. */
  principal?: Principal;
}

/** Context factory for the HTTP adapter. */
export function createContextFactory(deps: ApiDeps) {
  return ({ req }: { req: { headers: Record<string, string | string[] | undefined> } }): ApiContext => {
    const header = req.headers.authorization;
    return { deps, authorization: Array.isArray(header) ? header[0] : header };
  };
}
