// The end-to-end fault soak on a clustered JetStream (issue 18), run by hand, not by `npm test`:
//   node bench/cluster-soak.ts [events=3000] [rate=10 events/s]
// A 3-node NATS cluster with R3 streams, Temporal dev server and PostgreSQL; 2 ingest and 2
// worker processes (the real services). N events plus ~5 % duplicates (the same CloudEvent id
// and source published again, under another Nats-Msg-Id, so JetStream stores both and ingest
// has to see through it) go out at a steady rate while the timeline (a) SIGKILLs the node
// leading AC_EVENTS and restarts it, (b) stops another node for 30 s, (c) SIGKILLs an ingest and
// a worker and restarts them. Once quiet it prints the exact accounting and exits 1 when any
// count is off: one run per (definition, event), the expected task rows, one `task.created` per
// task in AC_TASKS, nothing in AC_DLQ.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { ActivityDefinitionSpec, eventKey } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { DlqHeader } from '@activity-core/ingest';
import {
  connectNats,
  DEFAULT_STREAM_LIMITS,
  ensureStreams,
  publishRetrying,
  topology,
  watchConnection,
} from '@activity-core/messaging';
import {
  freePort,
  ManagedProcess,
  type NatsClusterNode,
  pollUntil,
  REPO_ROOT,
  type RunningNatsCluster,
  startNatsCluster,
} from '@activity-core/stack';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { storedMessages } from '../test/support/nats.ts';
import { sleep, WaitTimeoutError, waitFor } from '../test/support/wait.ts';
import { onInterrupt, runBench } from './support.ts';

const EVENTS = Number(process.argv[2] ?? 3000);
const RATE = Number(process.argv[3] ?? 10);
if (!Number.isInteger(EVENTS) || EVENTS < 100)
  throw new Error(`events: a whole number >= 100 (got ${process.argv[2]})`);
if (!(RATE > 0)) throw new Error(`rate: events per second > 0 (got ${process.argv[3]})`);
/** Every 20th publish is a duplicate of an event sent before: 5 %. */
const DUPLICATE_EVERY = 20;
const DUPLICATES = Math.floor(EVENTS / (DUPLICATE_EVERY - 1));
const SENDS = EVENTS + DUPLICATES;
const PUBLISH_MS = (SENDS / RATE) * 1000;
const NODE_DOWN_MS = 30_000;
const PREFIX = 'SOAK';
const TASK_QUEUE = 'soak-runs';
/** From the end of publishing to quiescence, at most (a loaded machine, a worker's activities timing out). */
const QUIESCE_MS = 20 * 60_000;
const SERVICE_START_MS = 180_000;
/**
 * Workflow starts each ingest process keeps in flight. The default (64) is for a Temporal with
 * room; the dev server on a shared 2-core machine answers 128 concurrent starts with 10 s
 * deadline errors and redeliveries, and the backlog then waits in AC_EVENTS either way.
 */
const INGEST_IN_FLIGHT = 8;

const dir = mkdtempSync(join(tmpdir(), 'ac-cluster-soak-'));
const logsDir = join(dir, 'logs');
mkdirSync(logsDir);
const t0 = performance.now();
const clock = (): string => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
const say = (line: string): void => {
  process.stdout.write(`[${clock()}] ${line}\n`);
};
const faults: string[] = [];
const fault = (line: string): void => {
  faults.push(`${clock()}  ${line}`);
  say(`FAULT ${line}`);
};

/** One service process (`ingest-1`, `worker-2`, …) that can be SIGKILLed and started again on its port. */
class Service {
  readonly name: string;
  readonly kind: 'ingest' | 'worker';
  readonly port: number;
  readonly env: NodeJS.ProcessEnv;
  #process: ManagedProcess | undefined;
  constructor(name: string, kind: 'ingest' | 'worker', port: number, env: NodeJS.ProcessEnv) {
    this.name = name;
    this.kind = kind;
    this.port = port;
    this.env = env;
  }

  async start(): Promise<void> {
    const process_ = new ManagedProcess({
      name: this.name,
      command: process.execPath,
      args: [join(REPO_ROOT, 'services', this.kind, 'src', 'main.ts')],
      env: { ...this.env, [`AC_${this.kind.toUpperCase()}_PORT`]: String(this.port) },
      cwd: REPO_ROOT,
      logFile: join(logsDir, `${this.name}.log`),
    });
    this.#process = process_;
    await process_.waitReady(
      (signal) =>
        pollUntil(async () => (await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal })).ok, signal, 250),
      SERVICE_START_MS,
    );
  }

  async kill(): Promise<void> {
    const p = this.#process;
    if (!p?.running) return;
    p.signal('SIGKILL');
    await p.exited;
  }

  async stop(): Promise<void> {
    await this.#process?.stop(15_000);
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }
}

async function soak(
  stack: { databaseUrl: string; temporalAddress: string; temporalNamespace: string },
  c: RunningNatsCluster,
) {
  const t = topology(PREFIX);
  const db = createDb({ url: stack.databaseUrl, poolMax: 4 });
  await migrateToLatest(db);
  const nc = await connectNats({ url: c.url, name: 'cluster-soak' });
  watchConnection(nc, { info: (m) => say(`soak client: ${m}`), warn: (m) => say(`soak client: ${m}`) });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStreams(jsm, t, { ...DEFAULT_STREAM_LIMITS, replicas: 3 });

  // Two definitions on the same events: every event makes a run of `soak-orders` (a review
  // task and one task per item: 2), every other one (total > 100) a run of `soak-large` (1).
  const orders = await createDefinition(db, {
    spec: ActivityDefinitionSpec.parse({
      key: 'soak-orders',
      name: 'Soak orders',
      trigger: { kind: 'event', event: { types: ['order.created'] } },
      taskTemplates: [
        { key: 'review', title: 'Review {{ event.data.orderId }}' },
        { key: 'pick', forEach: 'event.data.items', title: 'Pick {{ item }} for {{ event.data.orderId }}' },
      ],
    }),
  });
  const large = await createDefinition(db, {
    spec: ActivityDefinitionSpec.parse({
      key: 'soak-large',
      name: 'Soak large orders',
      trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
      taskTemplates: [{ key: 'approve', title: 'Approve {{ event.data.orderId }}' }],
    }),
  });
  const SOURCE = 'urn:soak';
  const ITEMS = ['a'];
  const totalOf = (i: number): number => (i % 2 === 0 ? 250 : 50);
  const expected = new Map<string, { keys: Set<string>; tasksPerRun: number }>([
    [orders.id, { keys: new Set(), tasksPerRun: 1 + ITEMS.length }],
    [large.id, { keys: new Set(), tasksPerRun: 1 }],
  ]);
  for (let i = 0; i < EVENTS; i++) {
    const key = eventKey({ source: SOURCE, id: `order-${i}` });
    expected.get(orders.id)?.keys.add(key);
    if (totalOf(i) > 100) expected.get(large.id)?.keys.add(key);
  }
  const expectedRuns = [...expected.values()].reduce((n, d) => n + d.keys.size, 0);
  const expectedTasks = [...expected.values()].reduce((n, d) => n + d.keys.size * d.tasksPerRun, 0);

  say('bundling the workflow code once for both workers');
  const bundle = join(dir, 'workflow-bundle.js');
  await promisify(execFile)(process.execPath, [
    join(REPO_ROOT, 'services/worker/src/build-workflow-bundle.ts'),
    bundle,
  ]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: stack.databaseUrl,
    NATS_URL: c.url,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.temporalNamespace,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    AC_STREAM_PREFIX: PREFIX,
    AC_STREAM_REPLICAS: '3',
    AC_WORKFLOW_BUNDLE: bundle,
    AC_OUTBOX_POLL_MS: '200',
    AC_INGEST_MAX_IN_FLIGHT: String(INGEST_IN_FLIGHT),
    LOG_LEVEL: 'info',
  };
  const services = await Promise.all(
    ['ingest-1', 'ingest-2', 'worker-1', 'worker-2'].map(
      async (name) => new Service(name, name.startsWith('ingest') ? 'ingest' : 'worker', await freePort(), env),
    ),
  );
  const [ingest1, , worker1] = services as [Service, Service, Service, Service];
  // Interrupted: the services go before the cluster (registered first, stopped last) and the stack.
  onInterrupt(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });
  try {
    // Workers first (they migrate and serve the task queue), then ingest, which loads the definitions.
    await Promise.all(services.filter((s) => s.kind === 'worker').map((s) => s.start()));
    await Promise.all(services.filter((s) => s.kind === 'ingest').map((s) => s.start()));
    say(`services ready: ${services.map((s) => `${s.name} (pid ${s.pid}, :${s.port})`).join(', ')}`);

    // The publisher: SENDS publishes on a fixed schedule (not one after the other: a publish
    // that waits out an election does not hold back the ones behind it), each retried with
    // its own Nats-Msg-Id until stored.
    const subject = `${t.events.subjectPrefix}order.created`;
    let retriedPublishes = 0;
    let storedAsDuplicate = 0;
    const publishOne = async (i: number, msgID: string): Promise<void> => {
      const body = JSON.stringify({
        specversion: '1.0',
        type: 'order.created',
        source: SOURCE,
        id: `order-${i}`,
        datacontenttype: 'application/json',
        data: { orderId: `order-${i}`, total: totalOf(i), items: ITEMS },
      });
      const h = natsHeaders();
      h.set('content-type', 'application/cloudevents+json');
      for (let round = 1; ; round++) {
        try {
          const ack = await publishRetrying(js, subject, body, { msgID, headers: h });
          if (ack.duplicate) storedAsDuplicate++;
          return;
        } catch (error) {
          // publishRetrying gave up after its 30 s horizon: a producer tries again, same id.
          retriedPublishes++;
          if (round >= 5) throw new Error(`publish ${msgID} failed ${round} times: ${String(error)}`);
        }
      }
    };
    const duplicatesOf: number[] = [];
    const publishStart = performance.now();
    let published = 0;
    const publisher = (async () => {
      const pending: Promise<void>[] = [];
      const failures: unknown[] = [];
      const track = (p: Promise<void>): void => {
        pending.push(
          p.then(
            () => void published++,
            (error: unknown) => void failures.push(error),
          ),
        );
      };
      let next = 0;
      for (let k = 0; k < SENDS; k++) {
        const due = publishStart + (k / RATE) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (k % DUPLICATE_EVERY === DUPLICATE_EVERY - 1 && next > 0 && duplicatesOf.length < DUPLICATES) {
          const of = Math.floor(Math.random() * next);
          duplicatesOf.push(of);
          track(publishOne(of, `order-${of}-again-${duplicatesOf.length}`));
        } else if (next < EVENTS) {
          const i = next++;
          track(publishOne(i, `order-${i}`));
        }
      }
      await Promise.all(pending);
      if (failures.length > 0) throw new AggregateError(failures, `${failures.length} publishes failed`);
      return performance.now() - publishStart;
    })();

    const at = async (fraction: number): Promise<void> => {
      const wait = publishStart + fraction * PUBLISH_MS - performance.now();
      if (wait > 0) await sleep(wait);
    };
    const faultline = (async () => {
      // (a) the node leading AC_EVENTS, SIGKILLed, back after 5 s.
      await at(0.15);
      const leader = await leaderOf(jsm, c, t.events.stream);
      fault(`(a) SIGKILL ${leader.name}, leader of ${t.events.stream} (pid ${leader.process.pid})`);
      await leader.kill();
      await sleep(5_000);
      const successor = await leaderOf(jsm, c, t.events.stream);
      fault(`(a) restarting ${leader.name}; ${t.events.stream} now led by ${successor.name}`);
      await leader.start();
      fault(`(a) ${leader.name} back`);
      await replicasCurrent(jsm, t);
      fault('(a) every replica of AC_EVENTS, AC_TASKS and the ingest consumer current again');

      // (b) another node (not the one leading AC_EVENTS now), stopped for 30 s.
      await at(0.35);
      const eventsLeader = await leaderOf(jsm, c, t.events.stream);
      const other = c.nodes.find((n) => n.name !== eventsLeader.name && n.name !== leader.name) ?? leader;
      fault(`(b) stopping ${other.name} for ${NODE_DOWN_MS / 1000} s (${t.events.stream} led by ${eventsLeader.name})`);
      await other.stop();
      await sleep(NODE_DOWN_MS);
      fault(`(b) starting ${other.name}`);
      await other.start();
      fault(`(b) ${other.name} back`);
      await replicasCurrent(jsm, t);
      fault('(b) every replica current again');

      // (c) an ingest and a worker, SIGKILLed together, restarted after 3 s.
      await at(0.75);
      fault(`(c) SIGKILL ${ingest1.name} (pid ${ingest1.pid}) and ${worker1.name} (pid ${worker1.pid})`);
      await Promise.all([ingest1.kill(), worker1.kill()]);
      await sleep(3_000);
      fault(`(c) restarting ${ingest1.name} and ${worker1.name}`);
      await Promise.all([ingest1.start(), worker1.start()]);
      fault(`(c) ${ingest1.name} (pid ${ingest1.pid}) and ${worker1.name} (pid ${worker1.pid}) ready`);
    })();

    const progress = setInterval(() => {
      void counts(db).then(
        (n) =>
          say(
            `published ${published}/${SENDS}, runs ${n.runs} (${n.finished} finished) of ${expectedRuns}, tasks ${n.tasks} of ${expectedTasks}, outbox unsent ${n.unsent}`,
          ),
        () => undefined,
      );
    }, 15_000);
    // Both run to their end before anything is closed (a fault that fails must not cut the
    // publisher's connection under it); then the first failure, if any, ends the soak.
    const [publishing, faulting] = await Promise.allSettled([publisher, faultline]);
    if (faulting.status === 'rejected' || publishing.status === 'rejected') clearInterval(progress);
    if (faulting.status === 'rejected') throw faulting.reason;
    if (publishing.status === 'rejected') throw publishing.reason;
    const publishMs = publishing.value;
    say(
      `published ${SENDS} (${EVENTS} events + ${duplicatesOf.length} duplicates) in ${(publishMs / 1000).toFixed(1)} s`,
    );

    // Quiescence: every run finished, every task row and task.created there, the outbox
    // drained, the ingest consumer with nothing pending or unacknowledged.
    let quiet = true;
    const quietSince = performance.now();
    try {
      await waitFor(
        async () => {
          const n = await counts(db);
          const consumer = await notYet(() => jsm.consumers.info(t.events.stream, 'ac-ingest'));
          const tasksStream = await notYet(() => jsm.streams.info(t.tasks.stream));
          return {
            ...n,
            pending: consumer?.num_pending,
            ackPending: consumer?.num_ack_pending,
            taskMessages: tasksStream?.state.messages ?? 0,
          };
        },
        {
          what: `quiescence: ${expectedRuns} finished runs, ${expectedTasks} tasks and task.created messages, outbox and ingest consumer empty`,
          timeoutMs: QUIESCE_MS,
          intervalMs: 2_000,
          until: (s) =>
            s.finished >= expectedRuns &&
            s.tasks >= expectedTasks &&
            s.taskMessages >= expectedTasks &&
            s.unsent === 0 &&
            s.pending === 0 &&
            s.ackPending === 0,
        },
      );
    } catch (error) {
      if (!(error instanceof WaitTimeoutError)) throw error;
      quiet = false;
      say(error.message);
    } finally {
      clearInterval(progress);
    }
    const endToEndMs = performance.now() - publishStart;
    const quietAfterPublishMs = performance.now() - quietSince;
    // Late work would show up now: a redelivery after the ack wait (30 s), a retried activity.
    say('quiet; watching 35 s more for late duplicates');
    await sleep(35_000);

    return await account(db, jsm, {
      quiet,
      expected,
      expectedRuns,
      expectedTasks,
      publishMs,
      endToEndMs,
      quietAfterPublishMs,
      duplicates: duplicatesOf.length,
      storedAsDuplicate,
      retriedPublishes,
      t,
    });
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await nc.close();
    await db.destroy();
  }
}

type Db = ReturnType<typeof createDb>;

/**
 * A JetStream API call that may fail for a while during an election ("no responders", a
 * timeout): `undefined` then, so a condition wait polls again instead of ending.
 */
async function notYet<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch {
    return undefined;
  }
}

async function counts(db: Db): Promise<{ runs: number; finished: number; tasks: number; unsent: number }> {
  const { rows } = await sql<{ runs: string; finished: string; tasks: string; unsent: string }>`
    select (select count(*) from runs) as runs,
           (select count(*) from runs where finished_at is not null) as finished,
           (select count(*) from task_instances) as tasks,
           (select count(*) from outbox where published_at is null) as unsent`.execute(db);
  const r = rows[0];
  return { runs: Number(r?.runs), finished: Number(r?.finished), tasks: Number(r?.tasks), unsent: Number(r?.unsent) };
}

/** The node leading `stream` now, once an election is over. */
async function leaderOf(jsm: JetStreamManager, c: RunningNatsCluster, stream: string): Promise<NatsClusterNode> {
  return waitFor(
    async () => {
      const leader = (await notYet(() => jsm.streams.info(stream)))?.cluster?.leader;
      const node = c.nodes.find((n) => n.name === leader);
      return node?.running ? node : undefined;
    },
    { what: `a running leader of ${stream}`, timeoutMs: 120_000, intervalMs: 250 },
  );
}

/**
 * Every replica of the streams the soak reads and of the ingest consumer caught up, so the next
 * node fault takes one of three current copies (a second fault while a replica still catches up
 * would be two nodes down, more than R3 promises to survive).
 */
async function replicasCurrent(jsm: JetStreamManager, t: ReturnType<typeof topology>): Promise<void> {
  await waitFor(
    () =>
      notYet(async () => {
        const infos = await Promise.all([
          jsm.streams.info(t.events.stream).then((i) => i.cluster),
          jsm.streams.info(t.tasks.stream).then((i) => i.cluster),
          jsm.consumers.info(t.events.stream, 'ac-ingest').then((i) => i.cluster),
        ]);
        return infos.map((cl) => ({ leader: cl?.leader, current: (cl?.replicas ?? []).map((r) => r.current) }));
      }),
    {
      what: 'a leader and 2 current replicas for AC_EVENTS, AC_TASKS and ac-ingest',
      timeoutMs: 180_000,
      intervalMs: 500,
      until: (all) => !!all?.every((s) => !!s.leader && s.current.length === 2 && s.current.every(Boolean)),
    },
  );
}

interface Accounting {
  readonly quiet: boolean;
  readonly expected: Map<string, { keys: Set<string>; tasksPerRun: number }>;
  readonly expectedRuns: number;
  readonly expectedTasks: number;
  readonly publishMs: number;
  readonly endToEndMs: number;
  readonly quietAfterPublishMs: number;
  readonly duplicates: number;
  readonly storedAsDuplicate: number;
  readonly retriedPublishes: number;
  readonly t: ReturnType<typeof topology>;
}

/** Prints the exact accounting; `false` when any count is off. */
async function account(db: Db, jsm: JetStreamManager, a: Accounting): Promise<boolean> {
  const problems: string[] = [];
  const sample = (xs: Iterable<string>): string => [...xs].slice(0, 10).join(', ');

  const runs = await sql<{ id: string; definition_id: string; trigger_key: string; status: string; tasks: string }>`
    select r.id, r.definition_id, r.trigger_key, r.status,
           (select count(*) from task_instances t where t.run_id = r.id) as tasks
    from runs r`.execute(db);
  const byDefinition = new Map<string, Map<string, number>>();
  const statuses = new Map<string, number>();
  const wrongTaskCounts: string[] = [];
  for (const r of runs.rows) {
    const keys = byDefinition.get(r.definition_id) ?? new Map<string, number>();
    keys.set(r.trigger_key, (keys.get(r.trigger_key) ?? 0) + 1);
    byDefinition.set(r.definition_id, keys);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    const want = a.expected.get(r.definition_id)?.tasksPerRun;
    if (want !== undefined && Number(r.tasks) !== want) wrongTaskCounts.push(`${r.id} (${r.tasks} of ${want})`);
  }
  for (const [definitionId, { keys }] of a.expected) {
    const got = byDefinition.get(definitionId) ?? new Map<string, number>();
    const missing = [...keys].filter((k) => !got.has(k));
    const twice = [...got].filter(([, n]) => n > 1).map(([k]) => k);
    const unexpected = [...got.keys()].filter((k) => !keys.has(k));
    if (missing.length > 0)
      problems.push(`definition ${definitionId}: ${missing.length} events without a run: ${sample(missing)}`);
    if (twice.length > 0)
      problems.push(`definition ${definitionId}: ${twice.length} events with more than one run: ${sample(twice)}`);
    if (unexpected.length > 0)
      problems.push(`definition ${definitionId}: ${unexpected.length} unexpected runs: ${sample(unexpected)}`);
  }
  const succeeded = statuses.get('succeeded') ?? 0;
  if (succeeded !== runs.rows.length)
    problems.push(`runs not succeeded: ${JSON.stringify(Object.fromEntries(statuses))}`);
  if (wrongTaskCounts.length > 0)
    problems.push(`${wrongTaskCounts.length} runs with the wrong number of tasks: ${sample(wrongTaskCounts)}`);

  const tasks = await sql<{ id: string }>`select id from task_instances`.execute(db);
  const taskIds = new Set(tasks.rows.map((r) => r.id));
  if (tasks.rows.length !== a.expectedTasks)
    problems.push(`task rows: ${tasks.rows.length}, expected ${a.expectedTasks}`);

  const messages = await storedMessages(jsm, a.t.tasks.stream);
  const created = messages.filter((m) => m.subject.startsWith(`${a.t.tasks.subjectPrefix}created.`));
  const perTask = new Map<string, number>();
  for (const m of created) {
    const id = (m.json() as { subject?: string }).subject ?? `(no subject, seq ${m.seq})`;
    perTask.set(id, (perTask.get(id) ?? 0) + 1);
  }
  const createdTwice = [...perTask].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
  const noMessage = [...taskIds].filter((id) => !perTask.has(id));
  const noRow = [...perTask.keys()].filter((id) => !taskIds.has(id));
  if (createdTwice.length > 0)
    problems.push(`${createdTwice.length} tasks with more than one task.created: ${sample(createdTwice)}`);
  if (noMessage.length > 0) problems.push(`${noMessage.length} tasks without a task.created: ${sample(noMessage)}`);
  if (noRow.length > 0) problems.push(`${noRow.length} task.created without a task row: ${sample(noRow)}`);

  const dlq = await storedMessages(jsm, a.t.dlq.stream);
  if (dlq.length > 0) {
    const reasons = dlq.map(
      (m) =>
        `seq ${m.seq} ${m.header.get(DlqHeader.reason)}: ${m.header.get(DlqHeader.message)} (${m.header.get(DlqHeader.subject)})`,
    );
    problems.push(`${dlq.length} dead letters in ${a.t.dlq.stream}: ${sample(reasons)}`);
  }
  // AC_EVENTS also holds the task events sourced from AC_TASKS (so definitions can trigger on
  // them): the published ones are those on the soak's subject, each stored once.
  const events = await jsm.streams.info(a.t.events.stream, { subjects_filter: '>' });
  const publishedSubject = `${a.t.events.subjectPrefix}order.created`;
  const storedPublished = events.state.subjects?.[publishedSubject] ?? 0;
  if (storedPublished !== EVENTS + a.duplicates) {
    problems.push(`${publishedSubject} in ${a.t.events.stream}: ${storedPublished}, expected ${EVENTS + a.duplicates}`);
  }
  const consumer = await jsm.consumers.info(a.t.events.stream, 'ac-ingest');
  const unsent = (await counts(db)).unsent;
  if (unsent > 0) problems.push(`${unsent} outbox rows never published`);
  if (!a.quiet) problems.push('the system did not become quiet within the deadline (counts above are as they stood)');

  const rate = (n: number, ms: number): string => (n / (ms / 1000)).toFixed(1);
  const lines = [
    '',
    `cluster soak: ${EVENTS} events + ${a.duplicates} duplicates (same CloudEvent id and source, another Nats-Msg-Id) at ${RATE}/s;`,
    `  3-node NATS cluster, R3 streams and consumer; 2 ingest (${INGEST_IN_FLIGHT} starts in flight each), 2 worker processes; Temporal dev server; PostgreSQL`,
    'fault timeline (from the start of the script):',
    ...faults.map((f) => `  ${f}`),
    `publishing: ${(a.publishMs / 1000).toFixed(1)} s (${rate(EVENTS + a.duplicates, a.publishMs)} publishes/s); publishes that outlived a 30 s retry horizon and were tried again: ${a.retriedPublishes}; acks flagged duplicate by JetStream: ${a.storedAsDuplicate}`,
    `end to end (first publish to quiet): ${(a.endToEndMs / 1000).toFixed(1)} s = ${rate(EVENTS, a.endToEndMs)} events/s, ${rate(a.expectedRuns, a.endToEndMs)} runs/s, ${rate(a.expectedTasks, a.endToEndMs)} tasks/s; quiet ${(a.quietAfterPublishMs / 1000).toFixed(1)} s after publishing ended`,
    `${a.t.events.stream}: ${storedPublished} on ${publishedSubject} (expected ${EVENTS + a.duplicates}), ${events.state.messages} in all (with the task events sourced from ${a.t.tasks.stream}); ac-ingest: delivered ${consumer.delivered.consumer_seq}, redelivered ${consumer.num_redelivered}, pending ${consumer.num_pending}, ack pending ${consumer.num_ack_pending}`,
    `runs: ${runs.rows.length} (expected ${a.expectedRuns}); statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    ...[...a.expected].map(([id, { keys }]) => {
      const got = byDefinition.get(id) ?? new Map<string, number>();
      return `  definition ${id}: ${got.size} distinct events with a run, ${[...got.values()].reduce((x, y) => x + y, 0)} runs (expected ${keys.size} each)`;
    }),
    `task rows: ${tasks.rows.length} (expected ${a.expectedTasks}); runs with the wrong number of tasks: ${wrongTaskCounts.length}`,
    `task.created in ${a.t.tasks.stream}: ${created.length} messages, ${perTask.size} distinct tasks (expected ${a.expectedTasks} each); tasks without one: ${noMessage.length}; with more than one: ${createdTwice.length}`,
    `${a.t.dlq.stream}: ${dlq.length} messages; outbox unsent: ${unsent}`,
    problems.length === 0 ? 'RESULT: exact (0 lost, 0 duplicated, 0 dead letters)' : 'RESULT: WRONG',
    ...problems.map((p) => `  - ${p}`),
    `logs: ${logsDir}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
  writeFileSync(join(dir, 'result.txt'), lines.join('\n'));
  return problems.length === 0;
}

// The run starts here, below every declaration: a class is not usable before its declaration runs.
say(`data and logs in ${dir}`);
const cluster = await startNatsCluster({ dir: join(dir, 'nats'), size: 3 });
say(`nats cluster up: ${cluster.url}`);
onInterrupt(() => cluster.stop());

await runBench(
  async (stack) => {
    try {
      return await soak(stack, cluster);
    } finally {
      await cluster.stop();
    }
  },
  { external: { natsUrl: cluster.url } },
);
