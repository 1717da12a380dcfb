// Runs given what no retry can fix end failed, with the reason on the run and in its log, on
// the first attempt; none is left running. The events are started on Temporal directly, past
// ingest and the API (which refuse them), as any client with access to the task queue could.
import { createContextResolverRegistry } from '@activity-core/activities';
import type { EventEnvelope } from '@activity-core/core';
import { getRunByWorkflowId, type RunRecord, readRunLog } from '@activity-core/db';
import { type RunActivityInput, startRunActivity } from '@activity-core/workflows';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { within } from '../support/wait.ts';
import { createHarness, createOrderDefinition, type Harness, orderEvent } from './harness.ts';

let h: Harness;
let attempts = 0;

beforeAll(async () => {
  h = await createHarness();
  await h.startWorker({
    resolvers: createContextResolverRegistry({
      nul: async () => ({ note: 'from a system that sends \u0000' }),
      deep: async () => JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`),
      huge: async () => {
        attempts++;
        // Within the input limits (12 strings of 200 KB), over Temporal's 2 MiB payload.
        return Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`part${i}`, 'x'.repeat(200 * 1024)]));
      },
    }),
  });
});
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
});

/** How long a run that fails on its first attempt may take to end, on a loaded machine. */
const RUN_MS = 60_000;

interface Failed {
  readonly run: RunRecord;
  readonly log: Awaited<ReturnType<typeof readRunLog>>;
  readonly failure: ApplicationFailure;
}

/** Starts the run, waits (with a deadline) for its workflow to fail, and reads its run row and log. */
async function runToFailure(input: RunActivityInput): Promise<Failed> {
  const { workflowId } = await startRunActivity(h.client, { taskQueue: h.taskQueue, input });
  const handle = h.client.workflow.getHandle(workflowId);
  // One attempt, no retries: the first step fails for good. The deadline only names what hung.
  const error = await within(
    handle.result().then(
      () => new Error('the run succeeded'),
      (e: unknown) => e,
    ),
    { what: `run ${workflowId} to fail`, timeoutMs: RUN_MS },
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const failure = (error as WorkflowFailedError).cause;
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect((failure as ApplicationFailure).nonRetryable).toBe(true);
  const run = await getRunByWorkflowId(h.db, workflowId);
  return { run, log: await readRunLog(h.db, run.id), failure: failure as ApplicationFailure };
}

function eventWith(attributes: Record<string, unknown>): EventEnvelope {
  // Built past the schema: this is what a client writing to the task queue directly can send.
  return { ...orderEvent(1), ...attributes } as EventEnvelope;
}

describe('the first step hits a data exception', () => {
  test.each([
    ['a NUL in data', { data: { orderId: 'a\u0000b', items: [{ sku: 'x' }] } }],
    ['a NUL in type (the repro of issue 13)', { type: 'order.\u0000' }],
    ['a NUL in id and source', { id: 'e\u0000', source: 'urn:\u0000' }],
    ['an unpaired surrogate in data', { data: { orderId: '\ud800', items: [] } }],
  ])('%s: the run ends failed with the reason, recorded with a storable copy of its trigger', async (_, attributes) => {
    const definition = await createOrderDefinition(h.db);
    const { run, log, failure } = await runToFailure({
      definitionId: definition.id,
      trigger: { kind: 'event', envelope: eventWith(attributes) },
    });
    expect(failure.type).toBe('DataRejected');
    expect(failure.message).toMatch(/PostgreSQL refused the data, a data exception \(SQLSTATE 22P0[25]\)/);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ type: 'DataRejected', message: failure.message });
    expect(log.map((e) => e.kind)).toEqual(['triggered', 'run_failed']);
    expect(log[1]?.data).toMatchObject({ error: { type: 'DataRejected' } });
    // What was given is kept, made storable: NUL as the text \u0000, a lone surrogate as U+FFFD.
    const stored = JSON.stringify(run.event);
    expect(stored.includes('\\\\u0000') || stored.includes('\ufffd')).toBe(true);
  });
});

describe('a context source answers what no retry fixes', () => {
  const custom = (resolver: string) => ({
    contextSources: [{ name: 'src', kind: 'custom', resolver }],
    rules: [],
    taskTemplates: [{ key: 'review', title: 'x' }],
  });

  test.each([
    ['a NUL', 'nul', 'ContextFailed', 'context source src: value note: holds a NUL character'],
    ['10,000 nested lists', 'deep', 'ContextFailed', 'context source src: value [0]'],
  ])('%s: ContextFailed on the first attempt, naming the source', async (_, resolver, type, message) => {
    const definition = await createOrderDefinition(h.db, custom(resolver));
    const { run, log, failure } = await runToFailure({
      definitionId: definition.id,
      trigger: { kind: 'event', envelope: orderEvent(1) },
    });
    expect(failure.type).toBe(type);
    expect(failure.message).toContain(message);
    expect(run.status).toBe('failed');
    expect(log.map((e) => e.kind)).toEqual(['triggered', 'run_failed']);
  });

  test('a result over Temporal’s payload limit: PayloadTooLarge, one attempt', async () => {
    const definition = await createOrderDefinition(h.db, custom('huge'));
    attempts = 0;
    const { run, failure } = await runToFailure({
      definitionId: definition.id,
      trigger: { kind: 'event', envelope: orderEvent(1) },
    });
    expect(failure.type).toBe('PayloadTooLarge');
    expect(failure.message).toMatch(/the result of resolveContext is \d+ bytes as JSON/);
    expect(run.status).toBe('failed');
    expect(attempts).toBe(1);
  });
});

describe('a run whose definition is gone', () => {
  test('fails without a run row (there is nothing to record it against)', async () => {
    const missing = '00000000-0000-7000-8000-000000000000';
    const { workflowId } = await startRunActivity(h.client, {
      taskQueue: h.taskQueue,
      input: { definitionId: missing, trigger: { kind: 'event', envelope: orderEvent(1) } },
    });
    const error = await h.client.workflow
      .getHandle(workflowId)
      .result()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'DefinitionNotFound' });
    await expect(getRunByWorkflowId(h.db, workflowId)).rejects.toThrow(/not found/);
  });
});
