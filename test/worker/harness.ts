// Shared set-up of the worker suites: a migrated database of its own, a NATS topology prefix
// of its own, a Temporal task queue of its own, and the real worker (Temporal worker +
// activities + outbox relay) in-process.

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContextResolverRegistry } from '@activity-core/activities';
import { ActivityDefinitionSpec, EventEnvelope } from '@activity-core/core';
import { createDb, createDefinition, type Database, migrateToLatest } from '@activity-core/db';
import { ensureStreams, type Topology, topology } from '@activity-core/messaging';
import { createLogger } from '@activity-core/runtime';
import { type RunningWorker, type StartWorkerOptions, startWorker } from '@activity-core/worker-service/worker';
import type { PlannedTask } from '@activity-core/workflows';
import { bundleWorkflows } from '@activity-core/workflows/worker';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import { storedMessages } from '../support/nats.ts';
import { createTestDatabase, stackInfo, type TestDatabase, uniqueId } from '../support/stack.ts';
import { PROCESS_START_MS, WAIT_MS, waitFor, within } from '../support/wait.ts';

export const quietLogger = createLogger({ level: 'error', base: { service: 'worker-test' } });

let bundle: Promise<WorkflowBundle> | undefined;
/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflows();
  return bundle;
}

/**
 * The real worker in-process for a test: quiet, on the shared stack's namespace, this file's
 * workflow bundle, no HTTP hosts, an outbox relay that polls every 100 ms; `options` on top.
 */
export async function startTestWorker(
  options: Pick<StartWorkerOptions, 'connection' | 'taskQueue' | 'db' | 'nc' | 'topology'> &
    Partial<StartWorkerOptions>,
): Promise<RunningWorker> {
  return startWorker({
    namespace: stackInfo().temporalNamespace,
    workflowBundle: await workflowBundle(),
    logger: quietLogger,
    http: { allowedHosts: [], env: {} },
    relay: { pollIntervalMs: 100, baseDelayMs: 100, maxDelayMs: 1_000 },
    ...options,
  });
}

export interface Harness extends AsyncDisposable {
  readonly database: TestDatabase;
  readonly db: Kysely<Database>;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  readonly prefix: string;
  readonly taskQueue: string;
  readonly client: Client;
  readonly connection: NativeConnection;
  /** Starts an in-process worker on the harness's queue; stopped on dispose. */
  startWorker(options?: {
    resolvers?: ContextResolverRegistry;
    allowedHosts?: string[];
    env?: Record<string, string>;
    /** Another database than the harness's (e.g. a dedicated server). */
    db?: Kysely<Database>;
    /** The worker's sticky cache size (Temporal's default when unset). */
    maxCachedWorkflows?: number;
  }): Promise<RunningWorker>;
  /** Every message currently in the tasks stream, oldest first. */
  taskMessages(): Promise<Array<{ subject: string; msgId: string | undefined; body: Record<string, unknown> }>>;
  /** Waits until the outbox is empty and the tasks stream holds at least `n` messages. */
  waitForTaskMessages(n: number, timeoutMs?: number): Promise<void>;
}

/**
 * This test file's harness with a started worker: made in `beforeAll` (then handed to
 * `onReady`), disposed in `afterAll`. Hooks a file registers afterwards run before the
 * dispose (vitest runs after-hooks in reverse order).
 */
export function useWorkerHarness(onReady: (h: Harness) => void | Promise<void>): void {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await createHarness();
    await h.startWorker();
    await onReady(h);
  });
  afterAll(async () => {
    await h?.[Symbol.asyncDispose]();
  });
}

export async function createHarness(): Promise<Harness> {
  const info = stackInfo();
  const database = await createTestDatabase();
  const db = createDb({ url: database.url, poolMax: 10, applicationName: 'worker-test' }, { onPoolError: () => {} });
  await migrateToLatest(db);
  const nc = await connect({ servers: info.natsUrl });
  const jsm = await jetstreamManager(nc);
  const prefix = uniqueId('W');
  const topo = topology(prefix);
  await ensureStreams(jsm, topo);
  const taskQueue = uniqueId('tq-');
  const connection = await NativeConnection.connect({ address: info.temporalAddress });
  const clientConnection = await Connection.connect({ address: info.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: info.temporalNamespace });
  const workers: RunningWorker[] = [];

  const harness: Harness = {
    database,
    db,
    nc,
    jsm,
    topology: topo,
    prefix,
    taskQueue,
    client,
    connection,
    async startWorker(options = {}) {
      const running = await startTestWorker({
        connection,
        taskQueue,
        db: options.db ?? db,
        nc,
        topology: topo,
        http: { allowedHosts: options.allowedHosts ?? [], env: options.env ?? {} },
        ...(options.resolvers ? { resolvers: options.resolvers } : {}),
        ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
      });
      workers.push(running);
      return running;
    },
    async taskMessages() {
      return (await storedMessages(jsm, topo.tasks.stream)).map((m) => ({
        subject: m.subject,
        msgId: m.header.get('Nats-Msg-Id') || undefined,
        body: m.json<Record<string, unknown>>(),
      }));
    },
    async waitForTaskMessages(n, timeoutMs = WAIT_MS) {
      await waitFor(
        async () => {
          const pending = await db
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('published_at', 'is', null)
            .executeTakeFirstOrThrow();
          const stream = await jsm.streams.info(topo.tasks.stream);
          return { outboxPending: Number(pending.n), taskMessages: stream.state.messages };
        },
        {
          what: `an empty outbox and ${n} messages in ${topo.tasks.stream}`,
          until: (seen) => seen.outboxPending === 0 && seen.taskMessages >= n,
          timeoutMs,
        },
      );
    },
    async [Symbol.asyncDispose]() {
      for (const w of workers) await w.shutdown();
      await connection.close();
      await clientConnection.close();
      for (const stream of [topo.events.stream, topo.dlq.stream, topo.tasks.stream]) {
        await jsm.streams.delete(stream).catch(() => undefined);
      }
      await nc.close();
      await db.destroy();
      await database.drop();
    },
  };
  return harness;
}

/** A definition spec triggered by `order.created`, one review task per item. */
export function orderSpec(key: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    key,
    name: 'Review order items',
    trigger: { kind: 'event', event: { types: ['order.created'] } },
    contextSources: [{ name: 'cfg', kind: 'static', value: { team: 'ops' } }],
    rules: [{ name: 'has_items', when: 'size(event.data.items) > 0' }],
    taskTemplates: [
      {
        key: 'review',
        forEach: 'event.data.items',
        title: 'Review {{ item.sku }}',
        assignee: '{{ context.cfg.team }}',
        labels: ['order', 'sku={{ item.sku }}'],
        payload: { sku: '{{ item.sku }}', order: '{{ event.data.orderId }}' },
      },
    ],
    ...overrides,
  };
}

export async function createOrderDefinition(db: Kysely<Database>, overrides: Record<string, unknown> = {}) {
  const key = `order-${uniqueId('').slice(0, 8)}`;
  return createDefinition(db, { spec: ActivityDefinitionSpec.parse(orderSpec(key, overrides)) });
}

/** The planned `review` task at `index`: a title and nothing else (every optional field empty). */
export function plannedReview(index: number, title: string): PlannedTask {
  return {
    templateKey: 'review',
    index,
    title,
    description: null,
    assignee: null,
    priority: null,
    labels: [],
    payload: null,
    dedupeKey: null,
    dueAt: null,
    expiresAt: null,
  };
}

/** An `order.created` envelope with `items` SKUs. */
export function orderEvent(items: number, extra: Partial<EventEnvelope> = {}): EventEnvelope {
  return EventEnvelope.parse({
    specversion: '1.0',
    id: uniqueId('evt-'),
    source: 'urn:shop',
    type: 'order.created',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: { orderId: uniqueId('o-'), items: Array.from({ length: items }, (_, i) => ({ sku: `sku-${i}` })) },
    causationdepth: 0,
    ...extra,
  });
}

const WORKER_MAIN = fileURLToPath(new URL('../../services/worker/src/main.ts', import.meta.url));

export interface WorkerProcessOptions {
  readonly databaseUrl: string;
  readonly taskQueue: string;
  /** The stream prefix; the Schedule id prefix derives from it, so its reconciler only sees its own. */
  readonly prefix: string;
  /** A directory for the workflow bundle file. */
  readonly dir: string;
  /** More settings (e.g. AC_WORKER_MAX_CONCURRENT_ACTIVITIES). */
  readonly env?: Record<string, string>;
}

/** The real worker process (services/worker/src/main.ts), resolved once it says it is ready. */
export async function spawnWorkerProcess(
  options: WorkerProcessOptions,
): Promise<ChildProcess & { readyLine: Record<string, unknown>; output(): string }> {
  const bundlePath = join(options.dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);
  const info = stackInfo();
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: options.databaseUrl,
      NATS_URL: info.natsUrl,
      TEMPORAL_ADDRESS: info.temporalAddress,
      TEMPORAL_NAMESPACE: info.temporalNamespace,
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      AC_STREAM_PREFIX: options.prefix,
      AC_SCHEDULE_ID_PREFIX: `${options.prefix.toLowerCase()}-def-`,
      AC_WORKER_PORT: '0',
      AC_WORKFLOW_BUNDLE: bundlePath,
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  const readyLine = await within(
    new Promise<Record<string, unknown>>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split('\n').find((l) => l.includes('"worker ready"'));
        if (line) resolve(JSON.parse(line) as Record<string, unknown>);
      });
      child.once('exit', (code) => reject(new Error(`worker exited early (${code}):\n${output}`)));
    }),
    {
      what: `the worker process (pid ${child.pid}) to log "worker ready"`,
      timeoutMs: PROCESS_START_MS,
      context: () => `--- worker stderr:\n${output.slice(-3000)}`,
    },
  );
  return Object.assign(child, { readyLine, output: () => output });
}
