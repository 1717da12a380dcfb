// The end-to-end fault soak on a clustered JetStream (issue 18), shared by the test in `npm test`
// (test/e2e/cluster-soak.test.ts, a few hundred events) and the full run by hand
// (bench/cluster-soak.ts, thousands). A 3-node NATS cluster with R3 streams and consumer, Temporal
// and PostgreSQL; 2 ingest and 2 worker processes (the real services). N events plus ~5 %
// duplicates (the same CloudEvent id and source published again, under another Nats-Msg-Id, so
// JetStream stores both and ingest has to see through it) go out at a steady rate while the
// timeline (a) SIGKILLs the node leading AC_EVENTS and restarts it, (b) stops another node for
// 30 s, (c) SIGKILLs an ingest and a worker and restarts them. Once quiet it takes the exact
// accounting: one run per (definition, event), the expected task rows, one `task.created` per task
// in AC_TASKS, each publish stored once, nothing in AC_DLQ, the outbox drained.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { ActivityDefinitionSpec, eventKey } from '@activity-core/core';
import { createDb, createDefinition, migrateToLatest } from '@activity-core/db';
import { DlqHeader } from '@activity-core/ingest';
import { ensureStreams, publishRetrying, type Topology, topology } from '@activity-core/messaging';
import { freePort, ManagedProcess, pollUntil, REPO_ROOT, type RunningNatsCluster } from '@activity-core/stack';
import type { JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { storedMessages } from './nats.ts';
import {
  connectToCluster,
  consumerInfoOrNotYet,
  leaderOf,
  R3_STREAM_LIMITS,
  streamInfoOrNotYet,
} from './nats-cluster.ts';
import { sleep, WaitTimeoutError, waitFor } from './wait.ts';

/** Every 20th publish is a duplicate of an event sent before: 5 %. */
const DUPLICATE_EVERY = 20;
const CONSUMER = 'ac-ingest';

export interface ClusterSoakOptions {
  /** Distinct events published (duplicates come on top, ~5 %). */
  readonly events: number;
  /** Publishes per second. */
  readonly rate: number;
  /** Where the service logs and the workflow bundle go. */
  readonly dir: string;
  /** The cluster to fault; 3 nodes. */
  readonly cluster: RunningNatsCluster;
  readonly databaseUrl: string;
  readonly temporalAddress: string;
  readonly temporalNamespace: string;
  /** Stream prefix and task queue of this soak. */
  readonly prefix: string;
  readonly taskQueue: string;
  /** A line of progress (faults, counts every 15 s). */
  readonly say: (line: string) => void;
  /**
   * Workflow starts each ingest process keeps in flight. The default (64) is for a Temporal with
   * room; the dev server on a shared 2-core machine answers 128 concurrent starts with 10 s
   * deadline errors and redeliveries, and the backlog then waits in AC_EVENTS either way.
   */
  readonly ingestInFlight?: number;
  /** How long node fault (b) lasts; 30 s. */
  readonly nodeDownMs?: number;
  /** How long a service process may take to answer /readyz. */
  readonly serviceStartMs?: number;
  /** From the end of publishing to quiescence, at most. */
  readonly quiesceMs?: number;
  /**
   * Rounds of `publishRetrying` (30 s each) a publish gets, the same Nats-Msg-Id each time, as a
   * producer would try again: the bench gives 5, the test 1 (a publish that outlives one horizon
   * fails it).
   */
  readonly publishRounds?: number;
  /**
   * After quiescence, how long to watch for late work before counting. Quiescence already means
   * the ingest consumer has nothing pending or unacknowledged (so nothing can be redelivered),
   * every run finished and the outbox is drained; the bench watches 35 s more anyway.
   */
  readonly lateWatchMs?: number;
}

export interface ClusterSoakResult {
  /** True when every count is exact. */
  readonly exact: boolean;
  /** Each count that is off, in words. */
  readonly problems: readonly string[];
  /** The printed accounting and timings. */
  readonly report: string;
  readonly counts: {
    readonly events: number;
    readonly duplicates: number;
    readonly expectedRuns: number;
    readonly runs: number;
    readonly succeededRuns: number;
    readonly expectedTasks: number;
    readonly taskRows: number;
    readonly taskCreated: number;
    readonly distinctTaskCreated: number;
    readonly storedPublishes: number;
    readonly deadLetters: number;
    readonly outboxUnsent: number;
    readonly redelivered: number;
  };
  /** The fault timeline, one line per step. */
  readonly faults: readonly string[];
}

/** One service process (`ingest-1`, `worker-2`, …) that can be SIGKILLed and started again on its port. */
class Service {
  readonly name: string;
  readonly kind: 'ingest' | 'worker';
  readonly port: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #logsDir: string;
  readonly #startMs: number;
  #process: ManagedProcess | undefined;
  constructor(name: string, port: number, env: NodeJS.ProcessEnv, logsDir: string, startMs: number) {
    this.name = name;
    this.kind = name.startsWith('ingest') ? 'ingest' : 'worker';
    this.port = port;
    this.#env = env;
    this.#logsDir = logsDir;
    this.#startMs = startMs;
  }

  async start(): Promise<void> {
    const process_ = new ManagedProcess({
      name: this.name,
      command: process.execPath,
      args: [join(REPO_ROOT, 'services', this.kind, 'src', 'main.ts')],
      env: { ...this.#env, [`AC_${this.kind.toUpperCase()}_PORT`]: String(this.port) },
      cwd: REPO_ROOT,
      logFile: join(this.#logsDir, `${this.name}.log`),
    });
    this.#process = process_;
    await process_.waitReady(
      (signal) =>
        pollUntil(async () => (await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal })).ok, signal, 250),
      this.#startMs,
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

  tail(): string {
    return `--- ${this.name} (pid ${this.pid})\n${this.#process?.tail() ?? '(not started)'}`;
  }
}

type Db = ReturnType<typeof createDb>;

/**
 * Runs the soak described at the top of this file on `options.cluster` and returns its exact
 * accounting; stops its services and connections whatever happens. It throws when a fault step,
 * a publish or a service start fails; counts that are off are `problems`, not a throw.
 */
export async function runClusterSoak(options: ClusterSoakOptions): Promise<ClusterSoakResult> {
  const { events: EVENTS, rate: RATE, cluster: c, say } = options;
  const nodeDownMs = options.nodeDownMs ?? 30_000;
  const ingestInFlight = options.ingestInFlight ?? 8;
  const publishRounds = options.publishRounds ?? 5;
  const duplicatesPlanned = Math.floor(EVENTS / (DUPLICATE_EVERY - 1));
  const SENDS = EVENTS + duplicatesPlanned;
  const PUBLISH_MS = (SENDS / RATE) * 1000;
  const logsDir = join(options.dir, 'logs');
  mkdirSync(logsDir, { recursive: true });
  const t0 = performance.now();
  const clock = (): string => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
  const faults: string[] = [];
  const fault = (line: string): void => {
    faults.push(`${clock()}  ${line}`);
    say(`FAULT ${line}`);
  };

  const t = topology(options.prefix);
  const db = createDb({ url: options.databaseUrl, poolMax: 4 });
  const { nc, jsm, js } = await connectToCluster(c, 'cluster-soak', (m) => say(`soak client: ${m}`));
  const services: Service[] = [];
  try {
    await migrateToLatest(db);
    await ensureStreams(jsm, t, R3_STREAM_LIMITS);

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
    const bundle = join(options.dir, 'workflow-bundle.js');
    await promisify(execFile)(process.execPath, [
      join(REPO_ROOT, 'services/worker/src/build-workflow-bundle.ts'),
      bundle,
    ]);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      NATS_URL: c.url,
      TEMPORAL_ADDRESS: options.temporalAddress,
      TEMPORAL_NAMESPACE: options.temporalNamespace,
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      AC_STREAM_PREFIX: options.prefix,
      AC_STREAM_REPLICAS: '3',
      AC_WORKFLOW_BUNDLE: bundle,
      AC_OUTBOX_POLL_MS: '200',
      AC_INGEST_MAX_IN_FLIGHT: String(ingestInFlight),
      LOG_LEVEL: 'info',
    };
    const serviceStartMs = options.serviceStartMs ?? 180_000;
    for (const name of ['ingest-1', 'ingest-2', 'worker-1', 'worker-2']) {
      services.push(new Service(name, await freePort(), env, logsDir, serviceStartMs));
    }
    const [ingest1, , worker1] = services as [Service, Service, Service, Service];
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
          if (round >= publishRounds) throw new Error(`publish ${msgID} failed ${round} times: ${String(error)}`);
          retriedPublishes++;
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
        if (k % DUPLICATE_EVERY === DUPLICATE_EVERY - 1 && next > 0 && duplicatesOf.length < duplicatesPlanned) {
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
      const leader = await leaderOf(jsm, c, t.events.stream, 120_000);
      fault(`(a) SIGKILL ${leader.name}, leader of ${t.events.stream} (pid ${leader.process.pid})`);
      await leader.kill();
      await sleep(5_000);
      const successor = await leaderOf(jsm, c, t.events.stream, 120_000);
      fault(`(a) restarting ${leader.name}; ${t.events.stream} now led by ${successor.name}`);
      await leader.start();
      fault(`(a) ${leader.name} back`);
      await replicasCurrent(jsm, t);
      fault('(a) every replica of AC_EVENTS, AC_TASKS and the ingest consumer current again');

      // (b) another node (not the one leading AC_EVENTS now), stopped for 30 s.
      await at(0.35);
      const eventsLeader = await leaderOf(jsm, c, t.events.stream, 120_000);
      const other = c.nodes.find((n) => n.name !== eventsLeader.name && n.name !== leader.name) ?? leader;
      fault(`(b) stopping ${other.name} for ${nodeDownMs / 1000} s (${t.events.stream} led by ${eventsLeader.name})`);
      await other.stop();
      await sleep(nodeDownMs);
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
          const consumer = await consumerInfoOrNotYet(jsm, t.events.stream, CONSUMER);
          const tasksStream = await streamInfoOrNotYet(jsm, t.tasks.stream);
          return {
            ...n,
            pending: consumer?.num_pending,
            ackPending: consumer?.num_ack_pending,
            taskMessages: tasksStream?.state.messages ?? 0,
          };
        },
        {
          what: `quiescence: ${expectedRuns} finished runs, ${expectedTasks} tasks and task.created messages, outbox and ingest consumer empty`,
          timeoutMs: options.quiesceMs ?? 20 * 60_000,
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
    const lateWatchMs = options.lateWatchMs ?? 0;
    if (lateWatchMs > 0) {
      // Late work would show up now: a redelivery after the ack wait (30 s), a retried activity.
      say(`quiet; watching ${lateWatchMs / 1000} s more for late duplicates`);
      await sleep(lateWatchMs);
    }

    const result = await account(db, jsm, {
      events: EVENTS,
      rate: RATE,
      ingestInFlight,
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
      faults,
      t,
    });
    return {
      ...result,
      report: [...result.report.split('\n'), `logs: ${logsDir}`].join('\n'),
      faults,
    };
  } catch (error) {
    say(`soak failed; the services' last lines:\n${services.map((s) => s.tail()).join('\n')}`);
    throw error;
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await nc.close();
    await db.destroy();
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

/**
 * Every replica of the streams the soak reads and of the ingest consumer caught up, so the next
 * node fault takes one of three current copies (a second fault while a replica still catches up
 * would be two nodes down, more than R3 promises to survive).
 */
async function replicasCurrent(jsm: JetStreamManager, t: Topology): Promise<void> {
  await waitFor(
    async () => {
      const infos = await Promise.all([
        streamInfoOrNotYet(jsm, t.events.stream).then((i) => i?.cluster),
        streamInfoOrNotYet(jsm, t.tasks.stream).then((i) => i?.cluster),
        consumerInfoOrNotYet(jsm, t.events.stream, CONSUMER).then((i) => i?.cluster),
      ]);
      return infos.map((cl) => ({ leader: cl?.leader, current: (cl?.replicas ?? []).map((r) => r.current) }));
    },
    {
      what: 'a leader and 2 current replicas for AC_EVENTS, AC_TASKS and ac-ingest',
      timeoutMs: 180_000,
      intervalMs: 500,
      until: (all) => all.every((s) => !!s.leader && s.current.length === 2 && s.current.every(Boolean)),
    },
  );
}

interface Accounting {
  readonly events: number;
  readonly rate: number;
  readonly ingestInFlight: number;
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
  readonly faults: readonly string[];
  readonly t: Topology;
}

/** The exact accounting, as counts, problems and the printed report. */
async function account(db: Db, jsm: JetStreamManager, a: Accounting): Promise<Omit<ClusterSoakResult, 'faults'>> {
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
  if (storedPublished !== a.events + a.duplicates) {
    problems.push(
      `${publishedSubject} in ${a.t.events.stream}: ${storedPublished}, expected ${a.events + a.duplicates}`,
    );
  }
  const consumer = await jsm.consumers.info(a.t.events.stream, CONSUMER);
  const unsent = (await counts(db)).unsent;
  if (unsent > 0) problems.push(`${unsent} outbox rows never published`);
  if (!a.quiet) problems.push('the system did not become quiet within the deadline (counts above are as they stood)');

  const rate = (n: number, ms: number): string => (n / (ms / 1000)).toFixed(1);
  const lines = [
    `cluster soak: ${a.events} events + ${a.duplicates} duplicates (same CloudEvent id and source, another Nats-Msg-Id) at ${a.rate}/s;`,
    `  3-node NATS cluster, R3 streams and consumer; 2 ingest (${a.ingestInFlight} starts in flight each), 2 worker processes; Temporal dev server; PostgreSQL`,
    'fault timeline (from the start of the soak):',
    ...a.faults.map((f) => `  ${f}`),
    `publishing: ${(a.publishMs / 1000).toFixed(1)} s (${rate(a.events + a.duplicates, a.publishMs)} publishes/s); publishes that outlived a 30 s retry horizon and were tried again: ${a.retriedPublishes}; acks flagged duplicate by JetStream: ${a.storedAsDuplicate}`,
    `end to end (first publish to quiet): ${(a.endToEndMs / 1000).toFixed(1)} s = ${rate(a.events, a.endToEndMs)} events/s, ${rate(a.expectedRuns, a.endToEndMs)} runs/s, ${rate(a.expectedTasks, a.endToEndMs)} tasks/s; quiet ${(a.quietAfterPublishMs / 1000).toFixed(1)} s after publishing ended`,
    `${a.t.events.stream}: ${storedPublished} on ${publishedSubject} (expected ${a.events + a.duplicates}), ${events.state.messages} in all (with the task events sourced from ${a.t.tasks.stream}); ${CONSUMER}: delivered ${consumer.delivered.consumer_seq}, redelivered ${consumer.num_redelivered}, pending ${consumer.num_pending}, ack pending ${consumer.num_ack_pending}`,
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
  ];
  return {
    exact: problems.length === 0,
    problems,
    report: lines.join('\n'),
    counts: {
      events: a.events,
      duplicates: a.duplicates,
      expectedRuns: a.expectedRuns,
      runs: runs.rows.length,
      succeededRuns: succeeded,
      expectedTasks: a.expectedTasks,
      taskRows: tasks.rows.length,
      taskCreated: created.length,
      distinctTaskCreated: perTask.size,
      storedPublishes: storedPublished,
      deadLetters: dlq.length,
      outboxUnsent: unsent,
      redelivered: consumer.num_redelivered,
    },
  };
}
