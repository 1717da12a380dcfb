// CPU time and memory of processes from /proc (Linux): what bench/pipeline.ts charges per event.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK); 100 on Linux). */
const TICK_MS = 10;

interface Stat {
  readonly ppid: number;
  /** utime + stime of the process itself, ms. */
  readonly ownMs: number;
  /** cutime + cstime: children that exited and were reaped, ms. */
  readonly reapedMs: number;
}

function readStat(path: string): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(fields[i - 3]);
  return { ppid: n(4), ownMs: (n(14) + n(15)) * TICK_MS, reapedMs: (n(16) + n(17)) * TICK_MS };
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/**
 * CPU ms used so far by `pid` and its whole process tree (live descendants, plus the reaped
 * ones the kernel folded into their parents): PostgreSQL forks a backend per connection.
 */
export function treeCpuMs(pid: number): number {
  const stats = new Map<number, Stat>();
  for (const p of allPids()) {
    const s = readStat(`/proc/${p}/stat`);
    if (s) stats.set(p, s);
  }
  let total = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop() as number;
    const s = stats.get(p);
    if (!s) continue;
    total += s.ownMs + s.reapedMs;
    for (const [child, cs] of stats) if (cs.ppid === p) queue.push(child);
  }
  return total;
}

/** CPU ms per thread name of one process (`node`, `tokio-runtime-w`, `V8Worker`, …). */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (!s) continue;
    let name = 'unknown';
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {}
    out.set(name, (out.get(name) ?? 0) + s.ownMs);
  }
  return out;
}

/** Resident set size of one process, MB. */
export function rssMb(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.replace(/\D+/g, '')) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The 1-minute load average, to print beside the figures. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
