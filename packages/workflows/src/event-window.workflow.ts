// The window phase of windowed event definitions: one workflow per definition and window key
// (`window:{definitionId}:{keyHash}`) that collects the key's events into windows, one after
// the other, and hands each closed window to a RunActivityWorkflow of its own
// (`run:{definitionId}:window:{keyHash}:{openingEventKey}`), which runs it like any other run.
import type { EventEnvelope, WindowCloseReason, WindowSummary } from '@activity-core/core';
// Not the package root: its modules (zod, CEL, re2, luxon) would be evaluated for every execution.
import { closedByTime, eventKey, WINDOW_LIMITS, windowDeadline } from '@activity-core/core/workflow-ids';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  ParentClosePolicy,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, JoinWindowResult } from './activity-contract.ts';
import { FailureTypes } from './failure-types.ts';
import { RunActivityWorkflow } from './run-activity.workflow.ts';
import { closeWindowUpdate, windowEventSignal, windowQuery } from './updates-and-queries.ts';
import type {
  CloseWindowRequest,
  CloseWindowResult,
  EventWindowInput,
  EventWindowResult,
  OpenWindow,
  WindowArrival,
  WindowView,
} from './window-contract.ts';

// Database steps only, as local activities: no task-queue round trip per batch of events, and
// a database outage is waited out (retried until it is back), never turned into a lost event.
const db = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '20 seconds' },
});

/** Events handed to one join activity at most. */
const JOIN_CHUNK = 100;
/**
 * Continue as new after this many signals, far below the server's per-execution limit
 * (`history.maximumSignalsPerExecution`, 10,000 by default), or when the history grows past
 * {@link HISTORY_EVENTS_PER_RUN} events or Temporal suggests it.
 */
const SIGNALS_PER_RUN = 2_000;
const HISTORY_EVENTS_PER_RUN = 8_000;

/**
 * Collects one key's events into windows and starts one run per closed window.
 *
 * Time is the events' own: an event arrives when JetStream stored it (see `arrivalOf`).
 * Per event (signal `windowEvent`, in the order the signals came): an event that arrived at or
 * after the open window's deadline (`quiet`, `maxWait`, `duration`, allOf `expired`) first
 * closes it, and opens the next. Otherwise the join activity claims it for the open window's run (an event
 * joins at most one window of a definition: duplicates and redeliveries change nothing),
 * keeps it within the bounds and logs it; a window whose content completes it (`maxEvents`,
 * allOf `complete`) closes at once. A timer closes the window at its deadline (workflow time),
 * after the events already received are handled. A closed window
 * becomes a RunActivityWorkflow child (abandoned on close: runs outlive this workflow) with the
 * kept events, unless it was discarded or expired with nothing to spawn.
 *
 * The workflow ends when no window is open and no event waits; the next event starts it again
 * (signal-with-start). It continues as new between events (never inside a handler) when its
 * history grows, carrying the open window and the events not yet handled.
 */
export async function EventWindowWorkflow(input: EventWindowInput): Promise<EventWindowResult> {
  const { definitionId, key, keyHash } = input;
  const inbox: WindowArrival[] = [...(input.carry?.inbox ?? [])];
  let open: OpenWindow | null = input.carry?.open ?? null;
  const requests: CloseWindowRequest[] = [];
  /** Answers for close requests: every window this execution closed, and requests that came too late. */
  const answers = new Map<string, CloseWindowResult>();
  let signals = 0;
  let joining = false;
  let windowsClosed = 0;

  setHandler(windowEventSignal, (signal) => {
    inbox.push({ ...signal, eventKey: eventKey(signal.envelope), arrivedAt: arrivalOf(signal.envelope) });
    signals++;
  });
  setHandler(
    closeWindowUpdate,
    async (request) => {
      if (!answers.has(request.runId)) {
        requests.push(request);
        await condition(() => answers.has(request.runId));
      }
      return answers.get(request.runId) as CloseWindowResult;
    },
    {
      validator: (request) => {
        // While a join is in flight the run named may be the one it is opening.
        if (answers.has(request.runId) || open?.runId === request.runId || (joining && open === null)) return;
        throw ApplicationFailure.create({
          type: FailureTypes.windowNotOpen,
          message: `run ${request.runId} is not this key's open window`,
          nonRetryable: true,
        });
      },
    },
  );
  setHandler(windowQuery, (): WindowView => {
    if (!open) return { open: null, inbox: inbox.length };
    const deadline = windowDeadline(open.settings, open.progress);
    return {
      open: {
        runId: open.runId,
        count: open.progress.count,
        openedAt: iso(open.progress.openedAt),
        closesAt: iso(deadline.at),
        closesBecause: deadline.reason,
      },
      inbox: inbox.length,
    };
  });

  /** Closes the open window, records it, and starts its run when there is one to start. */
  const close = async (reason: WindowCloseReason, request?: CloseWindowRequest): Promise<void> => {
    const window = open as OpenWindow;
    const summary: WindowSummary = {
      key,
      keyHash,
      mode: window.settings.mode,
      openingEventKey: window.openingEventKey,
      openedAt: iso(window.progress.openedAt),
      closedAt: iso(Date.now()),
      reason,
      count: window.progress.count,
      stored: window.stored,
      duplicates: window.duplicates,
    };
    const closed = await db.closeWindow({
      runId: window.runId,
      definitionId,
      version: window.version,
      summary,
      ...(request
        ? { by: { by: request.by, ...(request.reason !== undefined ? { reason: request.reason } : {}) } }
        : {}),
    });
    if (closed.startRun) {
      try {
        await startChild(RunActivityWorkflow, {
          workflowId: window.runWorkflowId,
          args: [
            {
              definitionId,
              version: window.version,
              trigger: { kind: 'window', window: summary, events: window.events },
            },
          ],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          cancellationType: 'ABANDON',
          // A window's run id is used once: a repeated start (reset, replay) finds the run.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
    }
    open = null;
    windowsClosed++;
    answers.set(window.runId, {
      runId: window.runId,
      outcome: reason === 'discarded' ? 'discarded' : reason === 'closed' ? 'closed' : 'not_open',
      reason,
      count: summary.count,
    });
  };

  const handleRequests = async (): Promise<void> => {
    for (let request = requests.shift(); request; request = requests.shift()) {
      if (answers.has(request.runId)) continue;
      if (open?.runId === request.runId) await close(request.action === 'discard' ? 'discarded' : 'closed', request);
      else answers.set(request.runId, { runId: request.runId, outcome: 'not_open', reason: null, count: null });
    }
  };

  const apply = (result: JoinWindowResult, chunk: readonly WindowArrival[]): void => {
    if (!result.open) return;
    const kept = chunk.slice(0, result.consumed).filter((_, i) => result.verdicts[i] === 'kept');
    const events = open && open.runId === result.open.runId ? open.events : [];
    open = { ...result.open, events: [...events, ...kept.map((arrival) => arrival.envelope)] };
  };

  const work = () => inbox.length > 0 || requests.length > 0;

  for (;;) {
    if (!work()) {
      if (open) {
        const wait = windowDeadline(open.settings, open.progress).at - Date.now();
        if (wait > 0) await condition(work, wait);
      } else {
        // Nothing open, nothing waiting: end, unless something arrives before the handlers finish.
        await condition(() => work() || allHandlersFinished());
        if (!work()) return { windowsClosed };
      }
    }
    await handleRequests();
    // Events first: one that arrived before the deadline still joins, even when the workflow
    // handles it after the deadline (a slow or restarted worker must not split a window).
    while (inbox.length > 0) {
      await handleRequests();
      const first = inbox[0] as WindowArrival;
      if (open) {
        const due = closedByTime(open.settings, open.progress, first.arrivedAt);
        if (due) {
          await close(due);
          continue;
        }
      }
      // A chunk holds only events that arrived before the window's deadline as it stands
      // (joins only move it later): no event in it can belong to the next window. With no
      // window open, any window lasts at least the shortest duration from its first event.
      const bound = open
        ? windowDeadline(open.settings, open.progress).at
        : first.arrivedAt + WINDOW_LIMITS.minDurationMs;
      let n = 1;
      while (n < inbox.length && n < JOIN_CHUNK && (inbox[n] as WindowArrival).arrivedAt < bound) n++;
      const chunk = inbox.slice(0, n);
      joining = true;
      let result: JoinWindowResult;
      try {
        result = await db.joinWindow({
          definitionId,
          key,
          keyHash,
          open: open ? withoutEvents(open) : null,
          candidates: chunk.map(({ eventKey, envelope, version, arrivedAt }) => ({
            eventKey,
            envelope,
            version,
            arrivedAt,
          })),
        });
      } finally {
        joining = false;
      }
      inbox.splice(0, result.consumed);
      apply(result, chunk);
      if (open && result.full) await close(result.full);
    }
    await handleRequests();
    if (open) {
      const due = closedByTime(open.settings, open.progress, Date.now());
      if (due) await close(due);
    }
    const info = workflowInfo();
    const signalsPerRun = input.signalsPerRun ?? SIGNALS_PER_RUN;
    if (signals >= signalsPerRun || info.historyLength >= HISTORY_EVENTS_PER_RUN || info.continueAsNewSuggested) {
      await condition(() => work() || allHandlersFinished());
      if (!work()) {
        await continueAsNew<typeof EventWindowWorkflow>({ ...input, carry: { open, inbox: [] } });
      }
    }
  }
}

/**
 * When an event arrived: the time JetStream stored it (`delivery.receivedAt`), the same for
 * every delivery and every ingest replica, so windows follow when events were published, not
 * how fast they were processed. Workflow time for an envelope without it.
 */
function arrivalOf(envelope: EventEnvelope): number {
  const stored = envelope.delivery ? Date.parse(envelope.delivery.receivedAt) : Number.NaN;
  return Number.isNaN(stored) ? Date.now() : stored;
}

function withoutEvents(window: OpenWindow): Omit<OpenWindow, 'events'> {
  const { events: _events, ...ref } = window;
  return ref;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
