// Summarises V8 CPU profiles (`node --cpu-prof`, one file per thread) by where the time went:
// self time per package (workspace package, npm package, node internals, GC) and the top
// functions, and, per profile, total time charged to each of our functions' call trees.
//   node bench/pipeline/profile-summary.ts <dir with .cpuprofile files> [--top 25] [--per <events>] [--skip-ms <ms>]
// --skip-ms leaves out each profile's first samples (process start-up: module loading, the bundle).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    per: { type: 'string' },
    'skip-ms': { type: 'string', default: '0' },
  },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: profile-summary.ts <dir> [--top N] [--per events]');
const top = Number(values.top);
const per = values.per ? Number(values.per) : undefined;
const skipUs = Number(values['skip-ms']) * 1000;

/** Where a frame's code lives: a workspace package, an npm package, node, or V8 itself. */
function place(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') {
    return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  }
  if (url.startsWith('node:')) return 'node:internal';
  const pnpm = url.match(/node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pnpm) return pnpm[1] as string;
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1] as string;
  const ws = url.match(/\/(packages|services|bench)\/([^/]+)\//);
  if (ws) return `${ws[1]}/${ws[2]}`;
  if (url.includes('webpack') || url.includes('workflow-bundle') || url.includes('workflows.js')) {
    return 'workflow bundle';
  }
  return url.replace(/^file:\/\//, '');
}

const fmt = (us: number) => (per ? `${(us / 1000 / per).toFixed(3)} ms/ev` : `${(us / 1000).toFixed(0)} ms`);

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsed += delta;
    if (elapsed < skipUs) return;
    self.set(id, (self.get(id) ?? 0) + delta);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((a, [, t]) => a + t, 0);

  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, t] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const p = place(node.callFrame);
    byPlace.set(p, (byPlace.get(p) ?? 0) + t);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${p}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + t);
  }
  process.stdout.write(`\n== ${file}: ${fmt(total - idle)} busy of ${(total / 1e6).toFixed(1)} s sampled\n`);
  process.stdout.write('self time by place:\n');
  for (const [p, t] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (p === '(idle)') continue;
    process.stdout.write(`  ${fmt(t).padStart(16)}  ${((t / (total - idle)) * 100).toFixed(1).padStart(5)}%  ${p}\n`);
  }
  process.stdout.write('top functions (self):\n');
  for (const [f, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (f.startsWith('(idle)')) continue;
    process.stdout.write(`  ${fmt(t).padStart(16)}  ${f}\n`);
  }

  // Inclusive time of each workspace function's subtree (outermost workspace frame wins), so
  // "createTask" includes the kysely, pg and JSON work it triggers.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    let outer: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const p = place(node.callFrame);
      if (p.startsWith('packages/') || p.startsWith('services/')) {
        outer = `${node.callFrame.functionName || '(anonymous)'} (${p})`;
      }
    }
    if (outer) inclusive.set(outer, (inclusive.get(outer) ?? 0) + t);
  }
  if (inclusive.size > 0) {
    process.stdout.write('inclusive time under our outermost functions:\n');
    for (const [f, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`  ${fmt(t).padStart(16)}  ${f}\n`);
    }
  }
}
