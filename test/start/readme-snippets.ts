// The README's shell snippets as data: which fenced blocks are run and what they must print.
//
// A block whose info string is `sh check` is run (by bash, in the repository root, one after
// another in one environment: what a block exports, the next one sees). `sh check eventually`
// is run again until its output matches, for a while, since it reads something the system
// does asynchronously (a task appears after the event was published). The first fenced block
// after a check block, if its info string ends in `output` (`json output`, `text output`), is
// what the block must print (stdout and stderr together), after both are normalised: ids,
// times and stream sequence numbers differ from run to run.

export interface Snippet {
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
  readonly script: string;
  readonly eventually: boolean;
  readonly expected: string | undefined;
}

interface Fence {
  readonly line: number;
  readonly info: string;
  readonly body: string;
}

function fences(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i] as string);
    if (!open) continue;
    const [, indent = '', ticks = '', info = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] as string;
      if (line.trim() === ticks) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    out.push({ line: i + 1, info: info.trim(), body: body.join('\n') });
    i = j;
  }
  return out;
}

/** The README's check blocks in order, each with the output block that follows it, if any. */
export function extractSnippets(markdown: string): Snippet[] {
  const all = fences(markdown);
  const snippets: Snippet[] = [];
  all.forEach((fence, i) => {
    const words = fence.info.split(/\s+/);
    if (words[0] !== 'sh' || words[1] !== 'check') return;
    const next = all[i + 1];
    const expected = next && /(^|\s)output$/.test(next.info) ? next.body : undefined;
    snippets.push({ line: fence.line, script: fence.body, eventually: words.includes('eventually'), expected });
  });
  return snippets;
}

/**
 * What may differ between two runs of the same snippet. Each rule keeps what identifies the
 * value's kind, so `"seq": 3` still has to be a sequence number where the README says so.
 */
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>'],
  [/\b[0-9a-f]{64}\b/g, '<hash>'],
  // 2026-12-01T16:48:51.378Z, and NATS's 2026-12-01 16:48:51.51886773 +0000 UTC
  [/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z| [+-]\d{4} UTC)?/g, '<time>'],
  // the NATS CLI's log prefix, and an age such as (25.08s) or (1m2.5s)
  [/^\d\d:\d\d:\d\d /gm, '<clock> '],
  [/\((\d+(\.\d+)?(ns|µs|ms|s|m|h))+\)/g, '(<age>)'],
  // stream sequence numbers: they depend on what else reached the stream meanwhile
  [/(Sequence: |#|-Seq: |dlq:|"seq": |"sequence": )\d+/g, '$1<n>'],
  [/"nextCursor": "[^"]+"/g, '"nextCursor": "<cursor>"'],
];

export function normalise(text: string): string {
  let out = text.replace(/\r\n/g, '\n');
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  // A header block (`  Name: value` lines) is a set: the NATS CLI prints a Go map, in any order.
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; ) {
    if (!/^ {2}[A-Za-z][\w-]*: /.test(lines[i] as string)) {
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && /^ {2}[A-Za-z][\w-]*: /.test(lines[j] as string)) j++;
    lines.splice(i, j - i, ...lines.slice(i, j).sort());
    i = j;
  }
  return lines
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();
}
