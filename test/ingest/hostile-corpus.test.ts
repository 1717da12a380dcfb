// The hostile corpus (hostile-corpus.ts) against the real system: the ingest process (its
// services/ingest/src/main.ts, as a child process), the real worker (RunActivityWorkflow,
// activities, PostgreSQL) and real NATS and Temporal. Every message is published at once;
// then each must have its exact outcome, ingest must still be the same process, no run may be
// left running, and a valid event must still become a task.
import { ActivityDefinitionSpec, eventKey, runWorkflowIdForEvent } from '@activity-core/core';
import { createDb, createDefinition, type Database, type DefinitionRecord } from '@activity-core/db';
import type { RunningWorker } from '@activity-core/worker-service/worker';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { NativeConnection } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stackInfo } from '../support/stack.ts';
import { outlasting, PROCESS_START_MS, WAIT_MS, waitFor } from '../support/wait.ts';
import { startTestWorker } from '../worker/harness.ts';
import { type ChildIngest, createIngestHarness, DEFAULT_SOURCE, DlqHeader, type IngestHarness } from './harness.ts';
import { type CorpusLimits, type HostileCase, hostileCorpus } from './hostile-corpus.ts';

// Small limits, so that "at the limit" and "one past it" are small messages.
const LIMITS: CorpusLimits = {
  maxPayloadBytes: 64 * 1024,
  maxDepth: 16,
  maxListElements: 100,
  maxBytes: 4096,
  maxCausationDepth: 8,
};

/** Deadlines of the waits: every dead letter, every run finished, the task of the event after. */
const DEAD_LETTERS_MS = 150_000;
const RUNS_MS = 240_000;
const AFTER_MS = 60_000;

let h: IngestHarness;
let native: NativeConnection;
let worker: RunningWorker;
let ingest: ChildIngest;
let definition: DefinitionRecord;
let workerDb: Kysely<Database>;

beforeAll(async () => {
  h = await createIngestHarness();
  definition = await createDefinition(h.db, {
    spec: ActivityDefinitionSpec.parse({
      key: 'hostile-catch-all',
      name: 'Every event becomes a task',
      // Every event but the task events this definition's own runs publish (they come back
      // through AC_EVENTS and would trigger runs of their own, up to the causation limit).
      trigger: { kind: 'event', event: { types: ['>'], filter: "!event.type.startsWith('activitycore.')" } },
      taskTemplates: [
        {
          key: 'seen',
          title: 'Event of type {{ event.type }}',
          payload: { data: '{{ has(event.data) ? event.data : null }}' },
        },
      ],
    }),
  });
  native = await NativeConnection.connect({ address: stackInfo().temporalAddress });
  workerDb = createDb(
    { url: h.database.url, poolMax: 10, applicationName: 'hostile-worker' },
    { onPoolError: () => {} },
  );
  worker = await startTestWorker({
    connection: native,
    taskQueue: h.taskQueue,
    db: workerDb,
    nc: h.nc,
    topology: h.topology,
    // A run's first workflow task runs its local activities (recordRun …). With all the
    // corpus's runs at once on a loaded machine those tasks outlive their 10 s timeout and
    // start over, again and again; a few at a time, each finishes in time.
    maxConcurrentWorkflowTaskExecutions: 4,
  });
  ingest = h.spawnIngest({
    AC_INGEST_MAX_PAYLOAD_BYTES: String(LIMITS.maxPayloadBytes),
    AC_INPUT_MAX_DEPTH: String(LIMITS.maxDepth),
    AC_INPUT_MAX_ELEMENTS: String(LIMITS.maxListElements),
    AC_INPUT_MAX_BYTES: String(LIMITS.maxBytes),
    AC_MAX_CAUSATION_DEPTH: String(LIMITS.maxCausationDepth),
    AC_INGEST_MAX_IN_FLIGHT: '64',
  });
  await ingest.ready;
});

afterAll(async () => {
  await ingest?.stop();
  await worker?.shutdown();
  await native?.close();
  await workerDb?.destroy();
  await h?.[Symbol.asyncDispose]();
});

function runIdOf(c: HostileCase, seq: number): string | undefined {
  if (c.expect.kind !== 'run') return undefined;
  const identity =
    c.expect.identity === 'stream-sequence'
      ? { source: DEFAULT_SOURCE, id: `${h.topology.events.stream}:${seq}` }
      : c.expect.identity;
  return runWorkflowIdForEvent(definition.id, eventKey(identity));
}

async function runningRunWorkflows(): Promise<number> {
  let n = 0;
  const query = `TaskQueue = "${h.taskQueue}" AND WorkflowType = "RunActivityWorkflow" AND ExecutionStatus = "Running"`;
  for await (const _ of h.client.workflow.list({ query })) n++;
  return n;
}

test(
  'every message of the hostile corpus has its exact outcome; ingest stays the same process; no run is left running',
  async () => {
    const cases = hostileCorpus(LIMITS);
    expect(cases.length).toBeGreaterThanOrEqual(300);
    await ingest.ready;
    const pid = ingest.process.pid;
    const startedAt = await ingest.metric('process_start_time_seconds');
    expect(startedAt).toBeGreaterThan(0);

    // In bulk: every publish at once, acknowledged by the stream.
    const published = await Promise.all(
      cases.map(async (c) => {
        const hdrs = natsHeaders();
        for (const [name, value] of c.headers) hdrs.append(name, value);
        const ack = await h.js.publish(
          `${h.topology.events.subjectPrefix}${c.subjectSuffix}`,
          c.body,
          c.headers.length > 0 ? { headers: hdrs } : {},
        );
        expect(ack.duplicate, c.name).toBe(false);
        return { c, seq: ack.seq, runId: runIdOf(c, ack.seq) };
      }),
    );
    const toDeadLetter = published.filter((p) => p.c.expect.kind === 'dead_letter');
    const toRun = published.filter((p) => p.runId !== undefined);
    expect(new Set(toRun.map((p) => p.runId)).size).toBe(toRun.length);

    // The runs' own task events come back through AC_EVENTS; those that carry corpus data at a
    // limit (a payload of data nested exactly to the depth limit is deeper as a TaskInstance,
    // and the run at causation depth limit - 1 emits one at the limit) are dead-lettered too.
    // They are not corpus messages: counted apart, and they must be task events.
    const isTaskEvent = (letter: { subject: string }) => letter.subject.includes('.dlq.events.activitycore.task.');
    await waitFor(async () => (await h.deadLetters()).filter((l) => !isTaskEvent(l)).length, {
      what: `${toDeadLetter.length} dead letters of corpus messages`,
      until: (n) => n >= toDeadLetter.length,
      timeoutMs: DEAD_LETTERS_MS,
      intervalMs: 500,
    });
    const expectedRuns = toRun.map((p) => p.runId as string);
    await waitFor(
      async () => {
        const finished = await h.db
          .selectFrom('runs')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('status', 'in', ['succeeded', 'failed'])
          .where('workflow_id', 'in', expectedRuns)
          .executeTakeFirstOrThrow();
        return Number(finished.n);
      },
      { what: `${toRun.length} finished runs`, until: (n) => n >= toRun.length, timeoutMs: RUNS_MS, intervalMs: 500 },
    ).catch(async (error: unknown) => {
      const rows = await h.db.selectFrom('runs').select(['workflow_id', 'status']).execute();
      const byStatus = new Map<string, number>();
      for (const r of rows) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const recorded = new Set(rows.map((r) => r.workflow_id));
      const missing = toRun.filter((p) => !recorded.has(p.runId as string)).map((p) => p.c.name);
      const expected = new Set(expectedRuns);
      const unexpected = rows.filter((r) => !expected.has(r.workflow_id)).map((r) => `${r.workflow_id} ${r.status}`);
      throw new Error(
        `${String(error)}\nruns by status: ${JSON.stringify([...byStatus])}\nno run row for: ${missing.join('; ')}\nunexpected runs: ${unexpected.join('; ')}`,
      );
    });

    const letters = await h.deadLetters();
    const bySeq = new Map<number, typeof letters>();
    for (const letter of letters) {
      const seq = Number(letter.header(DlqHeader.streamSeq));
      bySeq.set(seq, [...(bySeq.get(seq) ?? []), letter]);
    }
    const runs = new Map(
      (await h.db.selectFrom('runs').select(['workflow_id', 'status', 'error']).execute()).map((r) => [
        r.workflow_id,
        r,
      ]),
    );
    const wrong: string[] = [];
    for (const { c, seq, runId } of published) {
      const found = bySeq.get(seq) ?? [];
      const got = found.map((l) => `${l.header(DlqHeader.reason)}@${l.header(DlqHeader.field) ?? ''}`).join(', ');
      if (c.expect.kind === 'dead_letter') {
        const want = `${c.expect.reason}@${c.expect.field ?? ''}`;
        const ok =
          found.length === 1 &&
          found[0]?.header(DlqHeader.reason) === c.expect.reason &&
          (c.expect.field === undefined || found[0]?.header(DlqHeader.field) === c.expect.field);
        if (!ok)
          wrong.push(
            `${c.name}: expected dead letter ${want}, got [${got}] (${found[0]?.header(DlqHeader.message) ?? ''})`,
          );
      } else {
        const run = runId === undefined ? undefined : runs.get(runId);
        if (found.length > 0 || run?.status !== 'succeeded') {
          wrong.push(
            `${c.name}: expected a succeeded run, got run ${run?.status ?? 'none'} ${JSON.stringify(run?.error ?? null)} and dead letters [${got}] (${found[0]?.header(DlqHeader.message) ?? ''})`,
          );
        }
      }
    }
    const expectedIds = new Set(expectedRuns);
    for (const id of runs.keys()) if (!expectedIds.has(id)) wrong.push(`a run no case expected: ${id}`);
    expect(wrong, wrong.join('\n')).toEqual([]);
    // Exactly once each: nothing else was dead-lettered, nothing else ran.
    const publishedSeqs = new Set(published.map((p) => p.seq));
    const strays = letters
      .filter((l) => !publishedSeqs.has(Number(l.header(DlqHeader.streamSeq))) && !isTaskEvent(l))
      .map((l) => `${l.subject} ${l.header(DlqHeader.reason)}: ${l.header(DlqHeader.message)}`);
    expect(strays, strays.join('\n')).toEqual([]);
    expect(letters.filter((l) => !isTaskEvent(l))).toHaveLength(toDeadLetter.length);
    expect(runs.size).toBe(toRun.length);

    await waitFor(runningRunWorkflows, {
      what: 'no RunActivityWorkflow left running',
      until: (n) => n === 0,
      timeoutMs: WAIT_MS,
    });

    // The same ingest process all along: no crash, no restart.
    expect(ingest.process.exitCode).toBeNull();
    expect(ingest.process.pid).toBe(pid);
    expect(await ingest.metric('process_start_time_seconds')).toBe(startedAt);

    // And it still works: a valid event becomes a task.
    await h.js.publish(`${h.topology.events.subjectPrefix}order.created`, JSON.stringify({ ok: true }), {
      msgID: 'after-the-corpus',
    });
    const after = runWorkflowIdForEvent(definition.id, eventKey({ source: DEFAULT_SOURCE, id: 'after-the-corpus' }));
    await waitFor(
      () =>
        h.db
          .selectFrom('task_instances')
          .innerJoin('runs', 'runs.id', 'task_instances.run_id')
          .select('task_instances.id')
          .where('runs.workflow_id', '=', after)
          .executeTakeFirst(),
      { what: `a task for the valid event published after the corpus (run ${after})`, timeoutMs: AFTER_MS },
    );

    const counts = new Map<string, number>();
    for (const { c } of published) {
      const key = `${c.class}: ${c.expect.kind === 'run' ? 'run' : c.expect.reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    console.info(
      `hostile corpus: ${cases.length} messages, ${toDeadLetter.length} dead-lettered, ${toRun.length} runs; redeliveries ${await ingest.metric('ac_ingest_redeliveries_total')}\n${[...counts].map(([k, v]) => `  ${k}: ${v}`).join('\n')}`,
    );
    // A couple of minutes on an idle machine; the waits above have deadlines of their own.
  },
  outlasting(PROCESS_START_MS, DEAD_LETTERS_MS, RUNS_MS, WAIT_MS, AFTER_MS),
);
