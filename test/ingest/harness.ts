// Shared set-up of the ingest suites: a migrated database, a NATS topology prefix and a
// Temporal task queue of their own, a stand-in RunActivityWorkflow worker, and ingest either
// in-process (startIngestService) or as child processes of services/ingest/src/main.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActivityDefinitionSpec, type EventTriggerConfig, eventKey, runWorkflowIdForEvent } from '@activity-core/core';
import { createDb, createDefinition, type Database, type DefinitionRecord, migrateToLatest } from '@activity-core/db';
import { DlqHeader, ensureIngestConsumer } from '@activity-core/ingest';
import { type IngestService, startIngestService } from '@activity-core/ingest-service';
import { loadConfig } from '@activity-core/ingest-service/config';
import { DEFAULT_STREAM_LIMITS, ensureStreams, type Topology, topology } from '@activity-core/messaging';
import { createLogger, silentTemporalLogger } from '@activity-core/runtime';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, Match, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { storedMessages } from '../support/nats.ts';
import { createTestDatabase, stackInfo, type TestDatabase, uniqueId } from '../support/stack.ts';
import { executionCount } from '../support/temporal.ts';
import { PROCESS_START_MS, within } from '../support/wait.ts';
import { createStandInActivities } from './stand-in.activities.ts';

export const quietLogger = createLogger({ level: 'error', base: { service: 'ingest-test' } });
export const DEFAULT_SOURCE = 'urn:activity-core:nats';
export const CONSUMER = 'ac-ingest';
/** Short waits so redelivery tests take seconds, not minutes. */
export const CONSUMER_SETTINGS = {
  name: CONSUMER,
  ackWaitMs: 1500,
  maxDeliver: 10,
  maxBackoffMs: 5000,
  maxAckPending: 1000,
} as const;
const MAIN = fileURLToPath(new URL('../../services/ingest/src/main.ts', import.meta.url));

let bundle: Promise<WorkflowBundle> | undefined;
function standInBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./stand-in.workflow.ts', import.meta.url)),
    logger: silentTemporalLogger,
  });
  return bundle;
}

/** The real ingest service, in-process on the harness's database, prefix and task queue. */
export type InProcessIngest = IngestService;

export interface ChildIngest {
  readonly process: ChildProcess;
  /** Resolves with the ops port once the child logged `ingest ready`; fails after {@link PROCESS_START_MS}. */
  readonly ready: Promise<number>;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The value of a metric on the child's /metrics (0 when absent). */
  metric(name: string, labels?: string): Promise<number>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Everything the child wrote to stderr. */
  readonly log: string[];
}

export interface IngestHarness extends AsyncDisposable {
  readonly database: TestDatabase;
  readonly db: Kysely<Database>;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  readonly prefix: string;
  readonly taskQueue: string;
  readonly client: Client;
  /** Creates an enabled event-triggered definition. */
  defineEvent(trigger: EventTriggerConfig, key?: string): Promise<DefinitionRecord>;
  /** Runs the stand-in RunActivityWorkflow worker on the harness's task queue until dispose. */
  startWorker(): Promise<void>;
  /** Starts the ingest service in-process (stopped on dispose), with these settings changed. */
  /** `maxInputBytes`: AC_INPUT_MAX_BYTES, the longest string in event data. */
  /** `pullExpiresMs`: AC_INGEST_PULL_EXPIRES_MS. */
  startInProcess(options?: {
    maxDeliver?: number;
    maxPayloadBytes?: number;
    maxInputBytes?: number;
    pullExpiresMs?: number;
  }): Promise<InProcessIngest>;
  spawnIngest(env?: Record<string, string>): ChildIngest;
  /** Whether a workflow with this id exists on the harness's Temporal. */
  workflowExists(workflowId: string, client?: Client): Promise<boolean>;
  /** How many executions (runs) Temporal has under this workflow id. */
  runCount(workflowId: string, client?: Client): Promise<number>;
  /** Every message currently in the DLQ stream. */
  deadLetters(): Promise<DeadLetterView[]>;
}

export interface DeadLetterView {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  header(name: string): string | undefined;
}

/** The run workflow id ingest must use for an event. */
export function expectedRunId(definitionId: string, source: string, id: string): string {
  return runWorkflowIdForEvent(definitionId, eventKey({ source, id }));
}

/**
 * `natsUrl` and `replicas`: another NATS (a test cluster, see test/support/nats-cluster.ts) with
 * the streams and the consumer at that many replicas; the shared test stack's single node at R1
 * when absent.
 */
export async function createIngestHarness(
  options: { temporalAddress?: string; natsUrl?: string; replicas?: number } = {},
): Promise<IngestHarness> {
  const info = stackInfo();
  const temporalAddress = options.temporalAddress ?? info.temporalAddress;
  const natsUrl = options.natsUrl ?? info.natsUrl;
  const replicas = options.replicas;
  const database = await createTestDatabase();
  const db = createDb({ url: database.url, poolMax: 5, applicationName: 'ingest-test' }, { onPoolError: () => {} });
  await migrateToLatest(db);
  const nc = await connect({ servers: natsUrl.split(',') });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const prefix = uniqueId('I');
  const t = topology(prefix);
  await ensureStreams(jsm, t, replicas ? { ...DEFAULT_STREAM_LIMITS, replicas } : DEFAULT_STREAM_LIMITS);
  await ensureIngestConsumer(jsm, t, replicas ? { ...CONSUMER_SETTINGS, replicas } : CONSUMER_SETTINGS);
  const taskQueue = uniqueId('tq-');
  const connection = await Connection.connect({ address: info.temporalAddress });
  const client = new Client({ connection, namespace: info.temporalNamespace });
  const cleanups: Array<() => Promise<void>> = [];
  const children: ChildIngest[] = [];

  /** The ingest service's settings on this harness, in-process and as a child alike. */
  const ingestEnv = (): Record<string, string> => ({
    DATABASE_URL: database.url,
    DATABASE_POOL_MAX: '4',
    NATS_URL: natsUrl,
    ...(replicas ? { AC_STREAM_REPLICAS: String(replicas) } : {}),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: info.temporalNamespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    AC_STREAM_PREFIX: prefix,
    AC_INGEST_PORT: '0',
    AC_INGEST_ACK_WAIT_MS: String(CONSUMER_SETTINGS.ackWaitMs),
    AC_INGEST_MAX_BACKOFF_MS: String(CONSUMER_SETTINGS.maxBackoffMs),
    AC_INGEST_NAK_DELAY_MS: '200',
    AC_INGEST_NAK_MAX_DELAY_MS: '2000',
  });

  const harness: IngestHarness = {
    database,
    db,
    nc,
    js,
    jsm,
    topology: t,
    prefix,
    taskQueue,
    client,
    async defineEvent(trigger, key = uniqueId('d').toLowerCase()) {
      const spec = ActivityDefinitionSpec.parse({
        key,
        name: `ingest test ${key}`,
        trigger: { kind: 'event', event: trigger },
        taskTemplates: [{ key: 'task', title: 'a task' }],
      });
      return createDefinition(db, { spec });
    },
    async startWorker() {
      const native = await NativeConnection.connect({ address: info.temporalAddress });
      const worker = await Worker.create({
        connection: native,
        namespace: info.temporalNamespace,
        taskQueue,
        workflowBundle: await standInBundle(),
        activities: createStandInActivities(nc, t),
      });
      const running = worker.run();
      cleanups.push(async () => {
        worker.shutdown();
        await running;
        await native.close();
      });
    },
    async startInProcess(overrides = {}) {
      const service = await startIngestService(
        loadConfig({
          ...ingestEnv(),
          AC_INGEST_CONSUMER: CONSUMER,
          AC_INGEST_MAX_ACK_PENDING: String(CONSUMER_SETTINGS.maxAckPending),
          AC_INGEST_MAX_DELIVER: String(overrides.maxDeliver ?? CONSUMER_SETTINGS.maxDeliver),
          AC_INGEST_MAX_IN_FLIGHT: '16',
          AC_INGEST_MAX_PAYLOAD_BYTES: String(overrides.maxPayloadBytes ?? 256 * 1024),
          ...(overrides.maxInputBytes !== undefined ? { AC_INPUT_MAX_BYTES: String(overrides.maxInputBytes) } : {}),
          ...(overrides.pullExpiresMs !== undefined
            ? { AC_INGEST_PULL_EXPIRES_MS: String(overrides.pullExpiresMs) }
            : {}),
          AC_INGEST_DEFAULT_SOURCE: DEFAULT_SOURCE,
          AC_INGEST_START_TIMEOUT_MS: '5000',
          // Longer than any wait of a test: a change that reaches the index within a test came
          // through LISTEN/NOTIFY, however slow the machine.
          AC_INGEST_REFRESH_INTERVAL_MS: String(10 * 60_000),
          AC_INGEST_SHUTDOWN_TIMEOUT_MS: '10000',
          AC_MAX_CAUSATION_DEPTH: '8',
          LOG_LEVEL: 'error',
        }),
        { logger: quietLogger },
      );
      cleanups.push(() => service.stop());
      return service;
    },
    spawnIngest(env = {}) {
      const log: string[] = [];
      const proc = spawn(process.execPath, [MAIN], {
        env: {
          ...process.env,
          ...ingestEnv(),
          AC_INGEST_MAX_DELIVER: String(CONSUMER_SETTINGS.maxDeliver),
          AC_INGEST_START_TIMEOUT_MS: '3000',
          LOG_LEVEL: 'info',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let resolvePort: (port: number) => void = () => {};
      let rejectPort: (error: Error) => void = () => {};
      const logTail = () => `--- ingest (pid ${proc.pid}) stderr, last lines:\n${log.slice(-20).join('\n')}`;
      const ready = within(
        new Promise<number>((resolve, reject) => {
          resolvePort = resolve;
          rejectPort = reject;
        }),
        { what: `ingest (pid ${proc.pid}) to log "ingest ready"`, timeoutMs: PROCESS_START_MS, context: logTail },
      );
      ready.catch(() => {});
      let buffer = '';
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          log.push(line);
          if (line.includes('"ingest ready"')) {
            try {
              resolvePort((JSON.parse(line) as { port: number }).port);
            } catch {
              // not JSON
            }
          }
        }
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        proc.on('exit', (code, signal) => {
          rejectPort(new Error(`ingest exited (${code ?? signal}) before it was ready:\n${log.join('\n')}`));
          resolve({ code, signal });
        });
      });
      const child: ChildIngest = {
        process: proc,
        ready,
        exited,
        log,
        async metric(name, labels) {
          const port = await ready;
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return metricValue(text, name, labels);
        },
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          await within(exited, { what: `ingest (pid ${proc.pid}) to exit after SIGTERM`, context: logTail });
        },
      };
      children.push(child);
      return child;
    },
    async workflowExists(workflowId, c = client) {
      try {
        await c.workflow.getHandle(workflowId).describe();
        return true;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    },
    runCount(workflowId, c = client) {
      return executionCount(c, workflowId);
    },
    async deadLetters() {
      return (await storedMessages(jsm, t.dlq.stream)).map((m) => ({
        seq: m.seq,
        subject: m.subject,
        data: m.data,
        headers: m.header,
        header: (name: string) => m.header.get(name, Match.IgnoreCase) || undefined,
      }));
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(children.map((c) => c.stop()));
      for (const cleanup of cleanups.reverse()) await cleanup();
      for (const stream of [t.events.stream, t.dlq.stream, t.tasks.stream])
        await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
      await connection.close();
      await db.destroy();
      await database.drop();
    },
  };
  return harness;
}

/** Reads one sample from Prometheus text; `labels` is the exact `{…}` content, e.g. `reason="max_depth"`. */
export function metricValue(text: string, name: string, labels?: string): number {
  const wanted = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) === wanted) return Number(line.slice(space + 1));
  }
  return 0;
}

export { DlqHeader };
