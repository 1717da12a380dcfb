// The activities of EventWindowWorkflow: join events to a key's window (opening it with its
// `waiting` run) and close it. Each call is one transaction and idempotent, because a local
// activity is retried (and re-run after a worker crash) until its result is recorded.
import {
  closedByContent,
  joinedProgress,
  opensWindow,
  type RunWindow,
  runWorkflowIdForWindow,
  WINDOW_LIMITS,
  type WindowSettings,
  windowOutcome,
  windowSettings,
  windowTriggerKey,
} from '@activity-core/core';
import {
  appendRunLogEntries,
  claimRunEvents,
  type Executor,
  findRunEventOwners,
  getDefinitionVersion,
  getRun,
  insertRunOrGet,
  inTransaction,
  type NewRunEvent,
  type NewRunLogEntry,
  NotFoundError,
  updateWaitingWindow,
} from '@activity-core/db';
import {
  type CloseWindowActivityInput,
  type CloseWindowActivityResult,
  FailureTypes,
  type JoinVerdict,
  type JoinWindowCandidate,
  type JoinWindowInput,
  type JoinWindowResult,
  type OpenWindowRef,
  type WindowActivities,
} from '@activity-core/workflows';
import { ApplicationFailure } from '@temporalio/common';
import { type ActivityDeps, finishRunStatus } from './deps.ts';

interface VersionWindow {
  readonly settings: WindowSettings;
  /** Whether an expired allOf window has templates to spawn (`onExpired`). */
  readonly expiredTemplates: boolean;
}

/** A claim lost to a concurrent transaction: the retry sees the event's owner and calls it a duplicate. */
class ClaimRaceError extends Error {
  override readonly name = 'ClaimRaceError';
}

export function createWindowActivities(deps: ActivityDeps): WindowActivities {
  // Definition versions are immutable: their window settings can be cached for good.
  const versions = new Map<string, VersionWindow>();
  // Reads through `db`: inside a transaction, the transaction's connection (never a second one).
  const versionWindow = async (db: Executor, definitionId: string, version: number): Promise<VersionWindow> => {
    const cacheKey = `${definitionId}@${version}`;
    const cached = versions.get(cacheKey);
    if (cached) return cached;
    const record = await getDefinitionVersion(db, definitionId, version).catch((error: unknown) => {
      if (error instanceof NotFoundError) {
        throw ApplicationFailure.create({
          type: FailureTypes.definitionNotFound,
          message: `definition ${definitionId} has no version ${version}`,
          nonRetryable: true,
        });
      }
      throw error;
    });
    const window = record.spec.trigger.kind === 'event' ? record.spec.trigger.event.window : undefined;
    if (!window) {
      throw ApplicationFailure.create({
        type: FailureTypes.invalidDefinition,
        message: `definition ${definitionId} version ${version} has no event window`,
        nonRetryable: true,
      });
    }
    const found = {
      settings: windowSettings(window),
      expiredTemplates: record.spec.taskTemplates.some((t) => t.onExpired === true),
    };
    versions.set(cacheKey, found);
    return found;
  };

  return {
    async joinWindow(input: JoinWindowInput): Promise<JoinWindowResult> {
      let opened = false;
      let ignored: JoinWindowCandidate[] = [];
      const joined = await inTransaction(deps.db, async (trx) => {
        opened = false;
        const owners = await findRunEventOwners(
          trx,
          input.definitionId,
          input.candidates.map((c) => c.eventKey),
        );
        let open: OpenWindowRef | null = input.open;
        // Positions from here on are this call's: a claim of the open run at such a position
        // was made by an earlier attempt of this very call (committed, result lost).
        const firstPosition = open?.progress.count ?? 0;
        const verdicts: JoinVerdict[] = [];
        const claims: NewRunEvent[] = [];
        const logs: NewRunLogEntry[] = [];
        const seen = new Set<string>();
        ignored = [];
        let consumed = 0;
        let full = open ? closedByContent(open.settings, open.progress) : null;

        const join = (window: OpenWindowRef, c: JoinWindowCandidate, claimed: boolean): OpenWindowRef => {
          const position = window.progress.count;
          const bytes = Buffer.byteLength(JSON.stringify(c.envelope));
          const keep =
            window.stored < WINDOW_LIMITS.maxStoredEvents && window.storedBytes + bytes <= WINDOW_LIMITS.maxStoredBytes;
          verdicts.push(keep ? 'kept' : 'counted');
          if (!claimed) {
            claims.push({
              eventKey: c.eventKey,
              position,
              joinedAt: new Date(c.arrivedAt),
              envelope: keep ? c.envelope : null,
            });
          }
          logs.push({
            kind: 'event_joined',
            idempotencyKey: `joined:${c.eventKey}`,
            data: {
              eventKey: c.eventKey,
              id: c.envelope.id,
              source: c.envelope.source,
              type: c.envelope.type,
              position,
              kept: keep,
            },
          });
          return {
            ...window,
            progress: joinedProgress(window.settings, window.progress, c.arrivedAt, c.envelope.type),
            stored: window.stored + (keep ? 1 : 0),
            storedBytes: window.storedBytes + (keep ? bytes : 0),
          };
        };
        const duplicate = () => {
          verdicts.push('duplicate');
          if (open) open = { ...open, duplicates: open.duplicates + 1 };
        };

        for (const c of input.candidates) {
          if (full) break;
          consumed++;
          if (seen.has(c.eventKey)) {
            duplicate();
            continue;
          }
          seen.add(c.eventKey);
          const owner = owners.get(c.eventKey);
          if (open) {
            if (owner === undefined) open = join(open, c, false);
            else if (owner.runId === open.runId && owner.position >= firstPosition) open = join(open, c, true);
            else duplicate();
          } else {
            const triggerKey = windowTriggerKey(input.keyHash, c.eventKey);
            if (owner !== undefined) {
              // Ours only when an earlier attempt of this call opened the window with it.
              const run = await getRun(trx, owner.runId);
              if (owner.position !== 0 || run.status !== 'waiting' || run.triggerKey !== triggerKey) {
                duplicate();
                continue;
              }
              open = join(await opening(trx, run.id, run.workflowId, run.definitionVersion, c), c, true);
            } else {
              const { settings } = await versionWindow(trx, input.definitionId, c.version);
              if (!opensWindow(settings, c.envelope.type)) {
                verdicts.push('ignored');
                ignored.push(c);
                continue;
              }
              const workflowId = runWorkflowIdForWindow(input.definitionId, input.keyHash, c.eventKey);
              const window: RunWindow = {
                key: input.key,
                keyHash: input.keyHash,
                mode: settings.mode,
                openingEventKey: c.eventKey,
                openedAt: new Date(c.arrivedAt).toISOString(),
                closedAt: null,
                reason: null,
                count: 0,
                stored: 0,
                duplicates: 0,
              };
              const { run, created } = await insertRunOrGet(trx, {
                definitionId: input.definitionId,
                definitionVersion: c.version,
                triggerKind: 'window',
                triggerKey,
                workflowId,
                status: 'waiting',
                event: c.envelope,
                window,
              });
              opened ||= created;
              // A run under this key without the event's claim: only a hand-edited database.
              if (!created && run.status !== 'waiting') {
                duplicate();
                continue;
              }
              open = join(await opening(trx, run.id, workflowId, c.version, c), c, false);
            }
          }
          full = closedByContent(open.settings, open.progress);
        }

        if (open) {
          const lost = await claimRunEvents(trx, input.definitionId, open.runId, claims);
          if (lost.length > 0) throw new ClaimRaceError(`events claimed concurrently: ${lost.join(', ')}`);
          await appendRunLogEntries(trx, open.runId, logs);
          await updateWaitingWindow(trx, open.runId, {
            key: input.key,
            keyHash: input.keyHash,
            mode: open.settings.mode,
            openingEventKey: open.openingEventKey,
            openedAt: new Date(open.progress.openedAt).toISOString(),
            closedAt: null,
            reason: null,
            count: open.progress.count,
            stored: open.stored,
            duplicates: open.duplicates,
          });
        }
        return { open, consumed, verdicts, full };
      });
      // After the commit, so a rolled-back attempt is not counted.
      if (opened) deps.metrics?.runStarted('window');
      if (ignored.length > 0) deps.metrics?.windowEventsIgnored(ignored.length);
      for (const c of ignored) {
        deps.logger.info('event ignored: no allOf window is open and its type opens none', {
          definitionId: input.definitionId,
          windowKey: input.key,
          eventKey: c.eventKey,
          id: c.envelope.id,
          source: c.envelope.source,
          type: c.envelope.type,
        });
      }
      return joined;

      async function opening(
        db: Executor,
        runId: string,
        runWorkflowId: string,
        version: number,
        c: JoinWindowCandidate,
      ): Promise<OpenWindowRef> {
        const { settings } = await versionWindow(db, input.definitionId, version);
        return {
          runId,
          runWorkflowId,
          openingEventKey: c.eventKey,
          version,
          settings,
          progress: { openedAt: c.arrivedAt, lastAt: c.arrivedAt, count: 0, typesSeen: [] },
          stored: 0,
          storedBytes: 0,
          duplicates: 0,
        };
      }
    },

    async closeWindow(input: CloseWindowActivityInput): Promise<CloseWindowActivityResult> {
      const { summary } = input;
      const outcome = windowOutcome(summary.reason);
      let status: CloseWindowActivityResult['status'];
      if (outcome === 'run') status = 'pending';
      else if (outcome === 'discard') status = 'cancelled';
      else {
        status = (await versionWindow(deps.db, input.definitionId, input.version)).expiredTemplates
          ? 'pending'
          : 'expired';
      }
      await appendRunLogEntries(deps.db, input.runId, [
        {
          kind: 'window_closed',
          idempotencyKey: 'window_closed',
          data: {
            reason: summary.reason,
            count: summary.count,
            kept: summary.stored,
            duplicates: summary.duplicates,
            openedAt: summary.openedAt,
            closedAt: summary.closedAt,
            next: status === 'pending' ? 'run' : status,
            ...(input.by
              ? { by: input.by.by, ...(input.by.reason !== undefined ? { note: input.by.reason } : {}) }
              : {}),
          },
        },
      ]);
      const finished = status !== 'pending';
      await finishRunStatus(deps, {
        id: input.runId,
        to: status,
        window: summary,
        ...(finished ? { summary: { reason: summary.reason, count: summary.count, tasksPlanned: 0 } } : {}),
      });
      return { status, startRun: status === 'pending' };
    },
  };
}
