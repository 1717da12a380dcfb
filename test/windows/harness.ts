// Set-up of the event-window suites: the ingest harness (database, NATS prefix, task queue,
// ingest in-process or as child processes) with the real worker instead of the stand-in, and
// helpers to define windowed definitions, publish CloudEvents and read window runs back.
import { ActivityDefinitionSpec, type EventWindow, eventKey } from '@activity-core/core';
import {
  createDefinition,
  type DefinitionRecord,
  listRunEvents,
  listRuns,
  listTasks,
  type RunEventRecord,
  type RunRecord,
  readRunLog,
  type TaskRecord,
} from '@activity-core/db';
import type { RunningWorker } from '@activity-core/worker-service/worker';
import { NativeConnection } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createIngestHarness, type IngestHarness, type InProcessIngest } from '../ingest/harness.ts';
import { stackInfo, uniqueId } from '../support/stack.ts';
import { waitFor } from '../support/wait.ts';
import { startTestWorker } from '../worker/harness.ts';

/** Definitions and events under a type prefix of their own, so tests never see each other's events. */
export interface WindowScope {
  /** The full type of `type` under this scope's prefix. */
  type(type: string): string;
  /**
   * An enabled definition on `types` (prefixed) with `window` (its `allOf` types prefixed too),
   * whose one task (`digest`) carries the window as it saw it in its payload.
   */
  defineWindowed(
    window: EventWindow,
    options?: { types?: string[]; extraTemplates?: unknown[]; filter?: string },
  ): Promise<DefinitionRecord>;
  /** An enabled plain (windowless) definition on `types` (prefixed). */
  definePlain(types: string[]): Promise<DefinitionRecord>;
  /** Publishes a structured CloudEvent to `events.{type}` (type prefixed); `id` defaults to a fresh one. */
  publish(type: string, data: unknown, options?: { id?: string; source?: string }): Promise<{ id: string }>;
}

export interface WindowHarness extends AsyncDisposable {
  readonly h: IngestHarness;
  /** The /metrics registry of the worker {@link startWorker} starts (one per harness: a second would register the series twice). */
  readonly metrics: Registry;
  /** Starts the real worker in-process on the harness's task queue (stopped on dispose). */
  startWorker(): Promise<RunningWorker>;
  /**
   * Starts ingest in-process (stopped on dispose). Definitions made afterwards through a scope
   * are in its index before the call that made them returns.
   */
  startIngest(): Promise<InProcessIngest>;
  /** A fresh type prefix for one test's definitions and events. */
  scope(): WindowScope;
  /** The window runs of a definition, oldest window first. */
  windowRuns(definitionId: string): Promise<RunRecord[]>;
  /** A run's events in join order. */
  events(runId: string): Promise<RunEventRecord[]>;
  tasks(runId: string): Promise<readonly TaskRecord[]>;
  /** A run's log kinds, in order. */
  logKinds(runId: string): Promise<string[]>;
}

/** The payload of a `digest` task: what the run saw of its window. */
export interface DigestPayload {
  readonly key: string;
  readonly count: number;
  readonly reason: string;
  readonly ids: string[];
  readonly last: string;
}

export async function createWindowHarness(): Promise<WindowHarness> {
  const h = await createIngestHarness();
  const info = stackInfo();
  const workers: Array<{ running: RunningWorker; connection: NativeConnection }> = [];
  const ingests: InProcessIngest[] = [];
  const create = async (spec: unknown) => {
    const parsed = ActivityDefinitionSpec.parse(spec);
    const definition = await createDefinition(h.db, { spec: parsed });
    // An event published before ingest reloaded its index would be acked as unmatched.
    const type = parsed.trigger.kind === 'event' ? parsed.trigger.event.types[0] : undefined;
    if (type !== undefined) {
      const probe = { specversion: '1.0' as const, id: 'probe', source: 'urn:probe', type, causationdepth: 0 };
      for (const ingest of ingests) {
        await waitFor(
          () => {
            // In the index whether the probe matches or its filter fails on it.
            const { matched, failed } = ingest.index.match(probe);
            return [...matched, ...failed].some((m) => m.id === definition.id);
          },
          { what: `definition ${definition.key} in the ingest index` },
        );
      }
    }
    return definition;
  };

  const metrics = new Registry();
  return {
    h,
    metrics,
    async startWorker() {
      const connection = await NativeConnection.connect({ address: info.temporalAddress });
      const running = await startTestWorker({
        connection,
        taskQueue: h.taskQueue,
        db: h.db,
        nc: h.nc,
        topology: h.topology,
        metrics,
      });
      workers.push({ running, connection });
      return running;
    },
    async startIngest() {
      const ingest = await h.startInProcess();
      ingests.push(ingest);
      return ingest;
    },
    scope() {
      const prefix = uniqueId('w');
      const type = (t: string) => `${prefix}.${t}`;
      return {
        type,
        defineWindowed(window, options = {}) {
          const types = (options.types ?? ['order.updated']).map(type);
          const prefixed = window.mode === 'allOf' ? { ...window, types: window.types.map(type) } : window;
          return create({
            key: uniqueId('win-').toLowerCase(),
            name: `window test (${window.mode})`,
            trigger: {
              kind: 'event',
              event: { types, window: prefixed, ...(options.filter !== undefined ? { filter: options.filter } : {}) },
            },
            taskTemplates: [
              {
                key: 'digest',
                title: '{{ window.count }} events about {{ window.key }}',
                payload: {
                  key: '{{ window.key }}',
                  count: '{{ window.count }}',
                  reason: '{{ window.reason }}',
                  ids: '{{ events.map(e, e.id) }}',
                  last: '{{ event.id }}',
                },
              },
              ...(options.extraTemplates ?? []),
            ],
          });
        },
        definePlain(types) {
          return create({
            key: uniqueId('plain-').toLowerCase(),
            name: 'plain event definition',
            trigger: { kind: 'event', event: { types: types.map(type) } },
            taskTemplates: [{ key: 'one', title: 'one event: {{ event.id }}' }],
          });
        },
        async publish(t, data, options = {}) {
          const id = options.id ?? uniqueId('evt-');
          const body = JSON.stringify({
            specversion: '1.0',
            id,
            source: options.source ?? 'urn:window-test',
            type: type(t),
            datacontenttype: 'application/json',
            data,
          });
          // No Nats-Msg-Id: JetStream must not drop repeats, so duplicates reach ingest and the window.
          await h.js.publish(`${h.topology.events.subjectPrefix}${type(t)}`, body);
          return { id };
        },
      };
    },
    async windowRuns(definitionId) {
      const page = await listRuns(h.db, { definitionId, triggerKind: 'window', limit: 500 });
      return [...page.items].sort(
        (a, b) =>
          Date.parse(a.window?.openedAt ?? '') - Date.parse(b.window?.openedAt ?? '') || a.id.localeCompare(b.id),
      );
    },
    events: (runId) => listRunEvents(h.db, runId),
    async tasks(runId) {
      return (await listTasks(h.db, { runId, limit: 100 })).items;
    },
    async logKinds(runId) {
      return (await readRunLog(h.db, runId)).map((e) => e.kind);
    },
    async [Symbol.asyncDispose]() {
      for (const { running, connection } of workers.reverse()) {
        await running.shutdown();
        await connection.close();
      }
      await h[Symbol.asyncDispose]();
    },
  };
}

/** The CloudEvent ids of a run's events, in join order. */
export function idsOf(events: readonly RunEventRecord[]): string[] {
  return events.map((e) => e.envelope?.id ?? `(not kept: ${e.eventKey})`);
}

/** The event key ingest derives for an event of the harness's default source. */
export function keyOf(id: string, source = 'urn:window-test'): string {
  return eventKey({ source, id });
}
