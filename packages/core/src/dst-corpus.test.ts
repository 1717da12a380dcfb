import { beforeAll, describe, expect, it } from 'vitest';
import type { DstPolicyInput } from './cron.ts';
import { cronSchedule, type Occurrence, occurrencesBetween } from './cron-engine.ts';
import { DST_TEST_ZONES, type DstCorpusCase, dstCorpus, dstRuleBreaks, referenceOccurrences } from './testing.ts';

// The kept DST corpus (see `dstCorpus`): every case must keep the README's DST rules, as the
// brute-force reference applies them, under the default policy and under each explicit one.
// Measured once against the preview this engine replaced (a model of Temporal's calendar
// engine, which the real Schedules matched): with tz data 2026c it broke the rules it promised
// (gaps shift, a repeated time fires once or twice, nothing else) in 68 of the 812 cases (60
// lost a fire, 8 fired a time not named) and the declared default policy in 184.

const iso = (ms: number) => new Date(ms).toISOString();
let corpus: DstCorpusCase[] = [];
beforeAll(() => {
  corpus = dstCorpus();
}, 120_000);

/** Every explicit policy; the cases take them in turn, so each meets every zone and shape. */
const POLICIES: readonly DstPolicyInput[] = (['auto', 'shift', 'skip'] as const).flatMap((gap) =>
  (['auto', 'first', 'last', 'both'] as const).map((fold) => ({ gap, fold })),
);

function breaksOf(c: DstCorpusCase, dst: DstPolicyInput, occurrences: readonly Occurrence[]): string[] {
  const breaks = dstRuleBreaks(
    c.expression,
    dst,
    c.walk,
    c,
    occurrences.map((o) => o.at),
  );
  if (breaks.lost.length + breaks.extra.length + breaks.doubled.length === 0) return [];
  return [
    `${c.expression} @ ${c.timezone} ${JSON.stringify(dst)} (${iso(c.from)}, ${iso(c.to)}]: ` +
      JSON.stringify({ lost: breaks.lost.map(iso), extra: breaks.extra.map(iso), doubled: breaks.doubled.map(iso) }),
  ];
}

describe('the kept DST corpus', () => {
  it('spans every test zone and several hundred cases', () => {
    expect(new Set(corpus.map((c) => c.timezone))).toEqual(new Set(DST_TEST_ZONES));
    expect(corpus.length).toBeGreaterThanOrEqual(600);
    const windows = new Set(corpus.map((c) => `${c.timezone} ${c.from}`)).size;
    process.stdout.write(
      `[cron] DST corpus: ${corpus.length} cases, ${windows} windows in ${DST_TEST_ZONES.length} zones, tz data ${process.versions.tz}\n`,
    );
  });

  it('the default policy breaks no rule in any case, and marks exactly the fires it touched', () => {
    const broken: string[] = [];
    const mismarked: string[] = [];
    for (const c of corpus) {
      const occurrences = occurrencesBetween(cronSchedule(c), c.from, c.to);
      broken.push(...breaksOf(c, {}, occurrences));
      const expected = referenceOccurrences(c.expression, {}, c.walk);
      for (const o of occurrences) {
        if (o.kind !== expected.get(o.at)) {
          mismarked.push(`${c.expression} @ ${c.timezone} ${iso(o.at)}: ${o.kind}, expected ${expected.get(o.at)}`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(mismarked).toEqual([]);
  }, 120_000);

  it('each explicit policy breaks no rule', () => {
    const broken = corpus.flatMap((c, i) => {
      const dst = POLICIES[i % POLICIES.length] as DstPolicyInput;
      return breaksOf(c, dst, occurrencesBetween(cronSchedule({ ...c, dst }), c.from, c.to));
    });
    expect(broken).toEqual([]);
  }, 120_000);

  it('the checker sees a lost, an extra and a doubled fire', () => {
    // New York, 2027-03-14: 02:30 does not exist; `30 2 * * *` shifts it to 03:00 EDT (07:00Z).
    const c = corpus.find((x) => x.timezone === 'America/New_York' && x.expression === '30 2 * * *');
    if (!c) throw new Error('corpus lacks 30 2 * * * in America/New_York');
    const fires = occurrencesBetween(cronSchedule(c), c.from, c.to).map((o) => o.at);
    expect(dstRuleBreaks(c.expression, {}, c.walk, c, fires)).toEqual({ lost: [], extra: [], doubled: [] });
    const shifted = Date.parse('2027-03-14T07:00:00Z');
    expect(fires).toContain(shifted);
    const without = fires.filter((t) => t !== shifted);
    expect(dstRuleBreaks(c.expression, {}, c.walk, c, without).lost).toEqual([shifted]);
    expect(dstRuleBreaks(c.expression, {}, c.walk, c, [...fires, shifted + 60_000]).extra).toEqual([shifted + 60_000]);
    expect(dstRuleBreaks(c.expression, {}, c.walk, c, [...fires, shifted]).doubled).toEqual([shifted]);
    // …and under `gap: 'skip'` the shifted fire is one no rule allows.
    expect(dstRuleBreaks(c.expression, { gap: 'skip' }, c.walk, c, fires).extra).toEqual([shifted]);
    // A repeated time: `fold: 'first'` forbids the second copy that `'any-fold'` accepts.
    const f = corpus.find((x) => x.timezone === 'America/New_York' && x.expression === '30 1 * * 7' && x.from > c.from);
    if (!f) throw new Error('corpus lacks 30 1 * * 7 in America/New_York in the autumn');
    const both = occurrencesBetween(cronSchedule({ ...f, dst: { fold: 'both' } }), f.from, f.to).map((o) => o.at);
    expect(both.map(iso)).toEqual(['2027-11-07T05:30:00.000Z', '2027-11-07T06:30:00.000Z']);
    expect(dstRuleBreaks(f.expression, {}, f.walk, f, both).extra).toEqual([Date.parse('2027-11-07T06:30:00Z')]);
    expect(dstRuleBreaks(f.expression, {}, f.walk, f, both, 'any-fold').extra).toEqual([]);
    expect(dstRuleBreaks(f.expression, {}, f.walk, f, [], 'any-fold').lost).toHaveLength(1);
  });
});
