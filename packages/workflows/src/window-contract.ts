// The contract of EventWindowWorkflow, the workflow that collects one key's events into windows
// (workflow id `window:{definitionId}:{keyHash}`): its input, its signal's payload, the
// close/discard update and what its query answers. Pure types: safe for workflow code and clients.
import type { EventEnvelope, WindowCloseReason, WindowProgress, WindowSettings } from '@activity-core/core';

/** What ingest signals for every matching event (signal-with-start). */
export interface WindowEventSignal {
  readonly envelope: EventEnvelope;
  /** The definition version ingest matched; a window runs with the version of its first event. */
  readonly version: number;
}

/** An event as the window workflow received it. */
export interface WindowArrival extends WindowEventSignal {
  readonly eventKey: string;
  /**
   * When the event arrived (epoch ms): when JetStream stored it (`delivery.receivedAt`), the
   * same on every delivery and ingest replica; workflow time for an envelope without it.
   */
  readonly arrivedAt: number;
}

/** The open window of a key, as the workflow and its join activity share it. */
export interface OpenWindowRef {
  readonly runId: string;
  readonly runWorkflowId: string;
  readonly openingEventKey: string;
  readonly version: number;
  readonly settings: WindowSettings;
  readonly progress: WindowProgress;
  /** Events kept so far, and their JSON bytes (bounded by WINDOW_LIMITS). */
  readonly stored: number;
  readonly storedBytes: number;
  readonly duplicates: number;
}

/** The open window with the envelopes it keeps for its run. */
export interface OpenWindow extends OpenWindowRef {
  readonly events: readonly EventEnvelope[];
}

/** What a continue-as-new carries: the open window and the events not handled yet. */
export interface EventWindowCarry {
  readonly open: OpenWindow | null;
  readonly inbox: readonly WindowArrival[];
}

/** Input of EventWindowWorkflow. */
export interface EventWindowInput {
  readonly definitionId: string;
  /** The window key (the value of the trigger's `window.key` expression). */
  readonly key: string;
  /** SHA-256 of the key, hex: part of the workflow id. */
  readonly keyHash: string;
  /** Set by continue-as-new only. */
  readonly carry?: EventWindowCarry;
  /** Signals one execution takes before it continues as new (default 2000; tests make it small). */
  readonly signalsPerRun?: number;
}

export interface EventWindowResult {
  /** Windows this execution closed (since its last continue-as-new). */
  readonly windowsClosed: number;
}

/** An operator's request to close a waiting window now (`close`) or discard it (`discard`). */
export interface CloseWindowRequest {
  readonly runId: string;
  readonly action: 'close' | 'discard';
  readonly by: string;
  readonly reason?: string;
}

/**
 * The answer to a {@link CloseWindowRequest}: `closed` or `discarded` when this request closed
 * the window; `not_open` when the window had already closed (by its own rules, or another request).
 */
export interface CloseWindowResult {
  readonly runId: string;
  readonly outcome: 'closed' | 'discarded' | 'not_open';
  /** The window's close reason when it closed in this workflow execution. */
  readonly reason: WindowCloseReason | null;
  readonly count: number | null;
}

/** What the window workflow's `window` query answers. */
export interface WindowView {
  readonly open: {
    readonly runId: string;
    readonly count: number;
    readonly openedAt: string;
    /** When the window closes by time unless an event changes it, and why. */
    readonly closesAt: string;
    readonly closesBecause: WindowCloseReason;
  } | null;
  /** Events received and not handled yet. */
  readonly inbox: number;
}
