// The worker's database cost of one 1-task event, in-process, against a raw floor in the same
// run. Per run: the worker's real `beginRun` and `writeTasks` (the activities the worker
// registers, on its `createDb` pool) and one pass of the relay's statements (its compiled claim
// and its mark; nothing is published: this measures the database side only). The floor writes
// the same rows (the run, its 3 + 2 log entries, the task, its outbox row, the run's status) with
// hand-written SQL in the fewest statements: one for the run's start, one for its task and
// finish, then the claim and the mark.
//
// Statements are counted by a wrapper on pg's `Client.prototype.query`, which every pool client
// of both sides goes through: one call is one round trip (pg sends each query on its own and
// waits for its result); BEGIN/COMMIT/ROLLBACK are counted apart. CPU is this process's
// (process.cpuUsage, user + system), per run, over all runs of a rep; PostgreSQL's own CPU is
// not in it.
//
//   node bench/run-activities.ts [--runs 300] [--reps 3] [--warmup 50]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createActivities } from '@activity-core/activities';
import { ActivityDefinitionSpec, eventKey, runWorkflowIdForEvent } from '@activity-core/core';
import {
  createDb,
  createDefinition,
  markOutboxPublished,
  migrateToLatest,
  prepareOutboxClaim,
} from '@activity-core/db';
import { taskSubject, topology } from '@activity-core/messaging';
import { silentLogger } from '@activity-core/runtime';
import type { BeginRunResult } from '@activity-core/workflows';
import { asyncLocalStorage, type Context } from '@temporalio/activity';
import pg from 'pg';
import { runBench } from './support.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '300' },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '50' },
  },
});
const runs = Number(args.runs);
const reps = Number(args.reps);
const warmup = Number(args.warmup);

/** Round trips of every pg client in this process, and how many were transaction control. */
const counted = { queries: 0, control: 0 };
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function counting(this: pg.Client, ...rest: unknown[]) {
  counted.queries += 1;
  const text = typeof rest[0] === 'string' ? rest[0] : ((rest[0] as { text?: string } | undefined)?.text ?? '');
  if (/^\s*(begin|commit|rollback)\b/i.test(text)) counted.control += 1;
  return (query as (...a: unknown[]) => unknown).apply(this, rest);
} as typeof pg.Client.prototype.query;

/** What beginRun reads of its activity context: the attempt and the cancellation signal. */
const activityContext = {
  info: { attempt: 1 },
  cancellationSignal: new AbortController().signal,
} as unknown as Context;

interface Figures {
  readonly queries: number;
  readonly control: number;
  readonly cpuMs: number;
  readonly wallMs: number;
}

/** Runs `one` `n` times in sequence: per run, round trips and process CPU. */
async function measure(n: number, one: (i: number) => Promise<void>): Promise<Figures> {
  const before = { ...counted };
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) await one(i);
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return {
    queries: (counted.queries - before.queries) / n,
    control: (counted.control - before.control) / n,
    cpuMs: (used.user + used.system) / 1000 / n,
    wallMs: wallMs / n,
  };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
const fmt = (x: number, digits = 2) => x.toFixed(digits);
const mmm = (xs: readonly number[], digits = 2) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${fmt(s[0] as number, digits)}/${fmt(s[Math.floor(s.length / 2)] as number, digits)}/${fmt(s[s.length - 1] as number, digits)}`;
};

const BEGIN_FLOOR = `
with d as (select id, current_version from definitions where id = $1),
r as (
  insert into runs (id, definition_id, definition_version, trigger_kind, trigger_key, workflow_id, status, event, started_at)
  select $2, d.id, d.current_version, 'event', $3, $4, 'running', $5::jsonb, now() from d
  returning id, definition_id, definition_version
),
l as (
  insert into run_log_entries (run_id, seq, definition_id, kind, idempotency_key, data)
  select r.id, e.seq, r.definition_id, e.kind, e.kind, e.data
  from r, (values (1, 'triggered', $6::jsonb), (2, 'context_resolved', $7::jsonb), (3, 'rules_evaluated', $8::jsonb)) as e(seq, kind, data)
)
select definition_version as version from r`;

const TASKS_FLOOR = `
with t as (
  insert into task_instances (id, run_id, definition_id, definition_key, definition_version, template_key, template_index,
    idempotency_key, workflow_id, title)
  values ($1, $2, $3, $4, $5, 'task', 0, $6, $6, $7)
  returning id
),
o as (
  insert into outbox (id, subject, headers, body, order_key) select $8, $9, $10::jsonb, $11::jsonb, t.id from t
),
u as (
  update runs set status = 'succeeded', summary = $12::jsonb, finished_at = now(), updated_at = now() where id = $2
),
l as (
  insert into run_log_entries (run_id, seq, definition_id, kind, idempotency_key, data)
  values ($2, 4, $3, 'task_created', 'task_created:' || $6, $13::jsonb), ($2, 5, $3, 'run_finished', 'run_finished', $14::jsonb)
)
select 1`;

const CLAIM_FLOOR = `
update outbox set attempts = attempts + 1, next_attempt_at = now() + interval '30 seconds',
  leased_until = now() + interval '30 seconds'
where id in (
  select id from outbox where published_at is null and next_attempt_at <= now()
  order by next_attempt_at, seq limit 100 for update skip locked
)
returning id, subject, headers, body, seq`;

const MARK_FLOOR =
  'update outbox set published_at = now(), last_error = null, leased_until = null where id = any($1::uuid[]) and published_at is null';

await runBench(
  async (stack) => {
    console.log(`load before: ${loadavg()}`);
    const db = createDb({ url: stack.databaseUrl, poolMax: 4 });
    await migrateToLatest(db);
    const definition = await createDefinition(db, {
      spec: ActivityDefinitionSpec.parse({
        key: 'bench-run-activities',
        name: 'Bench: one task per event',
        trigger: { kind: 'event', event: { types: ['bench.pipeline'] } },
        taskTemplates: [{ key: 'task', title: 'Task {{ event.data.n }}' }],
      }),
    });
    const topo = topology('BENCH');
    const activities = createActivities({
      db,
      logger: silentLogger,
      topology: topo,
      http: { allowedHosts: [], env: {} },
      onOutboxWritten: () => undefined,
    });
    const claim = prepareOutboxClaim(db, { limit: 100 });
    const raw = new pg.Pool({ connectionString: stack.databaseUrl, max: 4 });

    let serial = 0;
    const envelopeOf = () => {
      serial += 1;
      return {
        specversion: '1.0' as const,
        id: `evt-${process.pid}-${serial}`,
        source: 'urn:bench',
        type: 'bench.pipeline',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: { n: serial },
        causationdepth: 0,
      };
    };

    /** One event's run as the worker writes it: beginRun, writeTasks, one relay pass. */
    const product = async () => {
      const envelope = envelopeOf();
      const key = eventKey(envelope);
      const runWorkflowId = runWorkflowIdForEvent(definition.id, key);
      const now = new Date().toISOString();
      const begun = (await asyncLocalStorage.run(activityContext, () =>
        activities.beginRun({
          runWorkflowId,
          triggerKey: key,
          definitionId: definition.id,
          trigger: { kind: 'event', envelope },
          startedAt: now,
          actualTime: now,
          now,
          emptyStatus: 'succeeded',
        }),
      )) as BeginRunResult;
      if (begun.outcome !== 'planned') throw new Error(`beginRun: ${JSON.stringify(begun)}`);
      await activities.writeTasks({
        runId: begun.runId,
        runWorkflowId,
        definitionId: definition.id,
        definitionKey: begun.definitionKey,
        definitionVersion: begun.version,
        causation: { depth: 0 },
        tasks: begun.children,
        finish: { status: 'succeeded', tasksPlanned: 1, tasksStarted: 1 },
      });
      const claimed = await claim();
      if (claimed.length !== 1) throw new Error(`the relay claimed ${claimed.length} rows`);
      await markOutboxPublished(
        db,
        claimed.map((row) => row.id),
      );
    };

    /** The same rows in the fewest hand-written statements. */
    const floor = async () => {
      const envelope = envelopeOf();
      const key = eventKey(envelope);
      const runWorkflowId = runWorkflowIdForEvent(definition.id, key);
      const runId = crypto.randomUUID();
      const started = await raw.query(BEGIN_FLOOR, [
        definition.id,
        runId,
        key,
        runWorkflowId,
        JSON.stringify(envelope),
        JSON.stringify({ trigger: { kind: 'event', type: envelope.type, id: envelope.id }, version: 1 }),
        JSON.stringify({ sources: {} }),
        JSON.stringify({ rules: [], tasksPlanned: 1 }),
      ]);
      const version = started.rows[0].version as number;
      const taskId = crypto.randomUUID();
      const outboxId = crypto.randomUUID();
      const workflowId = `task:${runWorkflowId}:task:0`;
      const at = new Date().toISOString();
      const body = {
        specversion: '1.0',
        id: outboxId,
        source: 'urn:activity-core',
        type: 'tasks.created',
        time: at,
        datacontenttype: 'application/json',
        causationdepth: 0,
        correlationid: runWorkflowId,
        data: {
          id: taskId,
          runId,
          definitionId: definition.id,
          definitionKey: definition.key,
          definitionVersion: version,
          templateKey: 'task',
          index: 0,
          idempotencyKey: workflowId,
          title: `Task ${envelope.data.n}`,
          status: 'open',
          createdAt: at,
          updatedAt: at,
        },
      };
      await raw.query(TASKS_FLOOR, [
        taskId,
        runId,
        definition.id,
        definition.key,
        version,
        workflowId,
        `Task ${envelope.data.n}`,
        outboxId,
        taskSubject(topo, 'created', definition.key),
        JSON.stringify({ 'content-type': 'application/cloudevents+json' }),
        JSON.stringify(body),
        JSON.stringify({ tasksPlanned: 1, tasksStarted: 1 }),
        JSON.stringify({ taskId, workflowId, templateKey: 'task', index: 0 }),
        JSON.stringify({ status: 'succeeded', tasksPlanned: 1, tasksStarted: 1 }),
      ]);
      const claimed = await raw.query(CLAIM_FLOOR);
      if (claimed.rows.length !== 1) throw new Error(`the floor claimed ${claimed.rows.length} rows`);
      await raw.query(MARK_FLOOR, [claimed.rows.map((row: { id: string }) => row.id)]);
    };

    // Warm both (JIT, the pinned-spec cache, prepared plans on the server), then alternate reps.
    await measure(warmup, product);
    await measure(warmup, floor);
    const results = { product: [] as Figures[], floor: [] as Figures[] };
    for (let rep = 0; rep < reps; rep++) {
      results.product.push(await measure(runs, product));
      results.floor.push(await measure(runs, floor));
    }
    await raw.end();
    await db.destroy();

    console.log(`runs per rep: ${runs}, reps: ${reps}, warm-up: ${warmup} each`);
    console.log('round trips: calls of pg Client#query (one statement each; BEGIN/COMMIT/ROLLBACK counted apart)');
    console.log('| per run | product | floor | ×floor |');
    console.log('|---|---|---|---|');
    const row = (name: string, pick: (f: Figures) => number, digits = 2) => {
      const p = results.product.map(pick);
      const f = results.floor.map(pick);
      const ratios = p.map((x, i) => x / (f[i] as number));
      const ratio = f.every((x) => x > 0) ? mmm(ratios) : '–';
      console.log(`| ${name} | ${mmm(p, digits)} | ${mmm(f, digits)} | ${ratio} |`);
    };
    row('round trips', (f) => f.queries, 1);
    row('… of them BEGIN/COMMIT', (f) => f.control, 1);
    row('CPU ms (this process)', (f) => f.cpuMs);
    row('wall ms', (f) => f.wallMs);
    console.log('(min/median/max of the reps; ×floor per rep, product and floor reps alternate)');
    console.log(`load after: ${loadavg()}`);
    return true;
  },
  // Only PostgreSQL: the NATS and Temporal addresses are never used.
  { external: { natsUrl: 'nats://127.0.0.1:1', temporalAddress: '127.0.0.1:1' } },
);
