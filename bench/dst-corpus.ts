// The kept DST corpus (`dstCorpus`, @activity-core/core/testing) against the README's DST
// rules, as the brute-force reference applies them: how many cases lose, add or double a fire.
// Prints the figures for this engine and, given the core package of an older checkout, for the
// preview it replaced (a model of Temporal's calendar engine, removed by issue 12):
//   git archive 7937f4b packages/core | tar -x -C /tmp/old
//   ln -s "$PWD/packages/core/node_modules" /tmp/old/packages/core/node_modules
//   node bench/dst-corpus.ts /tmp/old/packages/core
// "old rules" are what the README promised before the declared policy (a gap time shifts to the
// gap's end, a repeated time fires at one or both of its instants, nothing else fires); "policy"
// is the declared default policy (`auto`).
import { cronSchedule, type DstPolicyInput, occurrencesBetween } from '@activity-core/core';
import { type DstCorpusCase, dstCorpus, dstRuleBreaks, referenceOccurrences } from '@activity-core/core/testing';

type Fires = (c: DstCorpusCase) => number[];
const iso = (t: number) => new Date(t).toISOString();

function tally(name: string, dst: DstPolicyInput, firesOf: Fires, corpus: readonly DstCorpusCase[]): void {
  const cases = { old: 0, policy: 0, lost: 0, extra: 0, doubled: 0 };
  const byZone = new Map<string, number>();
  const examples: string[] = [];
  for (const c of corpus) {
    const fires = firesOf(c);
    const old = dstRuleBreaks(c.expression, dst, c.walk, c, fires, 'any-fold');
    const policy = dstRuleBreaks(c.expression, dst, c.walk, c, fires, 'policy');
    if (policy.lost.length + policy.extra.length + policy.doubled.length > 0) cases.policy++;
    if (old.lost.length + old.extra.length + old.doubled.length === 0) continue;
    cases.old++;
    if (old.lost.length > 0) cases.lost++;
    if (old.extra.length > 0) cases.extra++;
    if (old.doubled.length > 0) cases.doubled++;
    byZone.set(c.timezone, (byZone.get(c.timezone) ?? 0) + 1);
    if (examples.length < 6) {
      examples.push(
        `${c.expression} @ ${c.timezone}: lost [${old.lost.map(iso).join(', ')}] extra [${old.extra.map(iso).join(', ')}]`,
      );
    }
  }
  process.stdout.write(
    `${name}: breaks the old rules in ${cases.old}/${corpus.length} cases (lose a fire ${cases.lost}, ` +
      `fire a time not allowed ${cases.extra}, double ${cases.doubled}); breaks the declared policy ` +
      `${JSON.stringify(dst)} in ${cases.policy}/${corpus.length}\n`,
  );
  if (byZone.size > 0) process.stdout.write(`  by zone: ${[...byZone].map(([z, n]) => `${z} ${n}`).join(', ')}\n`);
  for (const e of examples) process.stdout.write(`  e.g. ${e}\n`);
}

const oldCore = process.argv[2];
const corpus = dstCorpus();
const windows = new Set(corpus.map((c) => `${c.timezone} ${c.from}`)).size;
process.stdout.write(`corpus: ${corpus.length} cases, ${windows} windows, tz data ${process.versions.tz}\n`);
for (const dst of [{}, { gap: 'shift' }] as const) {
  tally(
    `engine ${JSON.stringify(dst)}`,
    dst,
    (c) => occurrencesBetween(cronSchedule({ ...c, dst }), c.from, c.to).map((o) => o.at),
    corpus,
  );
}
if (oldCore) {
  const { previewSchedule } = (await import(`${oldCore}/src/index.ts`)) as {
    previewSchedule: (config: { expression: string; timezone: string }, from: Date, n: number) => Date[];
  };
  tally(
    `old preview (${oldCore})`,
    {},
    (c) => {
      // Ask for more than any rule allows in the window; ask again if that does not reach past it.
      let n = referenceOccurrences(c.expression, { gap: 'shift', fold: 'both' }, c.walk).size + 5;
      for (;;) {
        const fires = previewSchedule(c, new Date(c.from), n).map((d) => d.getTime());
        if (fires.length < n || (fires.at(-1) as number) > c.to) return fires.filter((t) => t <= c.to);
        n *= 2;
      }
    },
    corpus,
  );
}
