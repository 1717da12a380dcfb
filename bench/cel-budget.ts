/**
 * The two expressions of issue 20, before and after RE2 and the evaluation budget.
 *
 *   node bench/cel-budget.ts            # 3 reps of each
 *
 * Before: what cel-js 8.0.0 did unpatched. Its matches() was `new RegExp(p).test(s)`, measured
 * here directly (the figures past 28 characters are extrapolated from the measured growth: at
 * 40 characters one evaluation takes hours), and the nested `all` ran to the end (measured with
 * an unlimited budget, which also shows what metering costs). After: `evaluate` as ingest runs
 * it, with the default budget. Raw baselines measured in the same run: a plain JavaScript loop
 * over the same 9 million pairs, and the RE2 match on its own.
 */
import { performance } from 'node:perf_hooks';
import {
  compileExpression,
  DEFAULT_EXPRESSION_COST,
  evaluate,
  eventFilterEnvironment,
  toCelValue,
} from '@activity-core/core';

const REPS = 3;

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function reps(fn: () => unknown): { min: number; median: number; max: number } {
  const samples = Array.from({ length: REPS }, () => time(fn)).sort((a, b) => a - b);
  return { min: samples[0] as number, median: samples[1] as number, max: samples[REPS - 1] as number };
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3));
const fmt = (r: { min: number; median: number; max: number }) => `${ms(r.min)}/${ms(r.median)}/${ms(r.max)} ms`;

function compile(source: string) {
  const compiled = compileExpression(source, eventFilterEnvironment, { expect: ['bool'] });
  if (!compiled.ok) throw new Error(`${source}: ${compiled.error.message}`);
  return compiled.program;
}

console.log(`default budget: ${DEFAULT_EXPRESSION_COST} cost units; times are min/median/max of ${REPS} reps\n`);

console.log("1. filter event.data.s.matches('^(a+)+$'), s = n × 'a' + '!'");
const regexFilter = compile("event.data.s.matches('^(a+)+$')");
console.log(`   save-time estimate: ${regexFilter.cost} units (inputs up to 256 KiB)`);
const before = new Map<number, number>();
let measuredUpTo = 0;
for (const n of [20, 22, 24, 26, 28]) {
  const s = `${'a'.repeat(n)}!`;
  const backtracking = /^(a+)+$/;
  const r = reps(() => backtracking.test(s));
  before.set(n, r.median);
  measuredUpTo = n;
  if (r.median > 3_000) break;
}
const growth = ((before.get(measuredUpTo) as number) / (before.get(measuredUpTo - 2) as number)) ** (1 / 2);
const beforeAt = (n: number) => before.get(n) ?? (before.get(measuredUpTo) as number) * growth ** (n - measuredUpTo);
console.log(`   before (JS RegExp): ×${growth.toFixed(2)} per character`);
console.log('   n   | before (median)          | after: evaluate (min/median/max) | cost units | ratio');
for (const n of [20, 26, 28, 31, 40]) {
  const vars = { event: toCelValue({ data: { s: `${'a'.repeat(n)}!` } }) };
  const after = reps(() => evaluate(regexFilter, vars));
  const result = evaluate(regexFilter, vars);
  const b = beforeAt(n);
  const label = before.has(n)
    ? `${ms(b)} ms`
    : `~${b > 3_600_000 ? `${(b / 3_600_000).toFixed(1)} h` : `${ms(b)} ms`} (extrapolated)`;
  console.log(
    `   ${String(n).padEnd(3)} | ${label.padEnd(24)} | ${fmt(after).padEnd(32)} | ${String(result.cost).padEnd(10)} | ${(b / after.median).toExponential(1)}`,
  );
}
const longSubject = { event: toCelValue({ data: { s: `${'a'.repeat(100_000)}!` } }) };
const long = reps(() => evaluate(regexFilter, longSubject));
console.log(`   100,000 characters: ${fmt(long)}, ${evaluate(regexFilter, longSubject).cost} units\n`);

console.log('2. filter event.data.xs.all(x, event.data.xs.all(y, x + y >= 0)), 3,000 elements');
const nested = compile('event.data.xs.all(x, event.data.xs.all(y, x + y >= 0))');
const rejected = compileExpression(nested.source, eventFilterEnvironment, { maxCost: DEFAULT_EXPRESSION_COST });
console.log(`   save-time: ${rejected.ok ? 'accepted' : `refused, ${rejected.error.message}`}`);
const xs = Array.from({ length: 3_000 }, (_, i) => i);
const nestedVars = { event: toCelValue({ data: { xs } }) };
const raw = reps(() => {
  let all = true;
  for (const x of xs) for (const y of xs) all &&= x + y >= 0;
  return all;
});
const unbounded = reps(() => evaluate(nested, nestedVars, { budget: 1e15 }));
const unboundedCost = evaluate(nested, nestedVars, { budget: 1e15 }).cost;
const bounded = reps(() => evaluate(nested, nestedVars));
const outcome = evaluate(nested, nestedVars);
console.log(`   raw JS loop (baseline):          ${fmt(raw)}`);
console.log(
  `   before (runs to the end):        ${fmt(unbounded)}, ${unboundedCost} units, ×${(unbounded.median / raw.median).toFixed(0)} the raw loop`,
);
console.log(
  `   after (default budget):          ${fmt(bounded)}, stops with ${outcome.ok ? 'ok' : outcome.error.code} at ${outcome.cost} units, ×${(unbounded.median / bounded.median).toFixed(1)} faster than before`,
);
console.log(`   ns per cost unit (unbounded run): ${((unbounded.median * 1e6) / unboundedCost).toFixed(1)}`);
