// What workflow code costs per execution, without servers: replays recorded histories (by
// default a 1-task run's RunActivityWorkflow and its TaskInstanceWorkflow, test/worker/fixtures)
// --copies times through one replay worker, per bundle, the bundles in alternating order, --reps
// times. Every replay is a fresh execution in the SDK's reusable V8 context: module set-up, every
// activation, handlers, completion.
//
//   node bench/workflow-replay-cost.ts [--reps 3] [--copies 200] [--fixtures a,b] [--bundle x.js --bundle y.js]
//
// Without --bundle it bundles the current workflow code; to compare commits, build each one's
// bundle with `node services/worker/src/build-workflow-bundle.ts <out.js>`. Prints per bundle:
// - the process's CPU per replayed set (min/median/max of the reps; the replay worker runs the
//   workflows on its main thread, so this includes history decoding, it is noisy, compare bundles);
// - the promises workflow code created per set, exact: the SDK's promise hook builds a stack
//   trace (through the bundle's source map) for every one of them, for its stack-trace query.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { promiseHooks } from 'node:v8';
import { silentTemporalLogger } from '@activity-core/runtime';
import { bundleWorkflows } from '@activity-core/workflows/worker';
import { Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { loadAverage, threadCpuMs } from './pipeline/proc-stats.ts';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    copies: { type: 'string', default: '200' },
    bundle: { type: 'string', multiple: true },
    fixtures: {
      type: 'string',
      default: 'begins-in-one-step-run-manual-1-task,begins-in-one-step-task-completed',
    },
  },
});
const REPS = Number(opts.reps);
const COPIES = Number(opts.copies);
const out = (line = '') => process.stdout.write(`${line}\n`);

Runtime.install({ logger: silentTemporalLogger });

const FIXTURES = new URL('../test/worker/fixtures/', import.meta.url);
const fixtures = String(opts.fixtures)
  .split(',')
  .map((name) => {
    const { workflowId, history } = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as {
      workflowId: string;
      history: unknown;
    };
    // The replay worker converts JSON histories (string event ids) itself.
    return { name, workflowId, history };
  });

const bundles: { name: string; bundle: WorkflowBundle }[] = opts.bundle?.length
  ? opts.bundle.map((path) => ({ name: path, bundle: { code: readFileSync(path, 'utf8') } }))
  : [{ name: 'current', bundle: await bundleWorkflows() }];

function* histories() {
  for (let i = 0; i < COPIES; i++) for (const f of fixtures) yield { workflowId: f.workflowId, history: f.history };
}

/**
 * Promises created in workflow sandboxes (another realm's Promise): the SDK's promise hook builds a
 * stack trace for each one (the stack-trace query), the largest per-execution cost that the
 * workflow code itself decides. Counted only when the replay runs on this thread.
 */
let sandboxPromises = 0;
promiseHooks.onInit((promise) => {
  if (promise.constructor !== Promise) sandboxPromises++;
});

async function replayOnce(bundle: WorkflowBundle): Promise<{ cpuMs: number; promises: number }> {
  const promisesBefore = sandboxPromises;
  const before = cpuMs();
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, replayName: 'cost' }, histories())) {
    if (result.error) throw result.error;
  }
  return { cpuMs: (cpuMs() - before) / COPIES, promises: (sandboxPromises - promisesBefore) / COPIES };
}

/** CPU ms of this process, all threads (the replay worker runs workflows on the main thread). */
function cpuMs(): number {
  let total = 0;
  for (const ms of threadCpuMs(process.pid).values()) total += ms;
  return total;
}

const figures = new Map<string, { cpu: number[]; promises: number }>(
  bundles.map((b) => [b.name, { cpu: [], promises: 0 }]),
);
out(`fixtures: ${fixtures.map((f) => f.name).join(', ')}; ${COPIES} copies per rep, ${REPS} reps`);
// One warm-up pass per bundle: JIT and the SDK's lazy set-up are not per execution.
for (const b of bundles) await replayOnce(b.bundle);
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? bundles : [...bundles].reverse();
  for (const b of order) {
    const load = loadAverage();
    const f = await replayOnce(b.bundle);
    const fig = figures.get(b.name);
    fig?.cpu.push(f.cpuMs);
    if (fig) fig.promises = f.promises;
    out(
      `rep ${rep + 1} ${b.name}: ${f.cpuMs.toFixed(2)} ms, ${f.promises} sandbox promises per replayed set (load ${load})`,
    );
  }
}
const mmm = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]?.toFixed(2)}/${s[Math.floor(s.length / 2)]?.toFixed(2)}/${s[s.length - 1]?.toFixed(2)}`;
};
out();
out('bundle | process CPU ms per replayed set (min/median/max) | sandbox promises per set');
for (const [name, f] of figures) out(`${name} | ${mmm(f.cpu)} | ${f.promises}`);
