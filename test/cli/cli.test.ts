// The real `activity-core` binary against the whole system as `npm start` runs it: worker,
// ingest and api as separate processes over the shared test stack, with their own database,
// stream prefix and task queue. Every command is a spawned process; its exit code and output
// are what a person or a script sees.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventKey } from '@activity-core/core';
import type { Db } from '@activity-core/db';
import { publishDeadLetter } from '@activity-core/ingest';
import { topology } from '@activity-core/messaging';
import { REPO_ROOT } from '@activity-core/stack';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CliResult, spawnCli } from '../support/cli.ts';
import { type ServiceStack, startServiceStack } from '../support/services.ts';
import { uniqueId } from '../support/stack.ts';
import { outlasting, WAIT_MS } from '../support/wait.ts';

const TOKEN = 'cli-admin-token-0123456789abcdef';
const prefix = uniqueId('C');
const t = topology(prefix);
let stack: ServiceStack;
let db: Db;
let nc: NatsConnection;
let work: string;

/** Starts the binary (under this Node, with `nodeArgs`); `finished()` resolves when it exits. */
function start(args: string[], nodeArgs: string[] = [], terminal = false) {
  const running = spawnCli(args, { apiUrl: stack.apiUrl, token: TOKEN, cwd: work, nodeArgs, terminal });
  const { child } = running;
  /** Resolves once stderr says so; fails at once if the process has exited instead. */
  const said = (text: string) =>
    stack.waitFor(
      async () => {
        if (running.err().includes(text)) return true;
        if (child.exitCode !== null)
          throw new Error(`exited ${child.exitCode} first:\n${running.err()}${running.out()}`);
        return false;
      },
      { what: `activity-core ${args.join(' ')} to say "${text}"` },
    );
  return { child, finished: running.finished, said, out: running.out, err: running.err };
}

/**
 * For a test that runs a dozen or more commands (each a Node start over the TypeScript
 * sources, 1-2 s on an idle machine, several times that under a full `npm test`) and up to
 * three waits: the timeout only has to outlast them, so a slow step is reported by its own
 * deadline, by name.
 */
const MANY_COMMANDS_MS = outlasting(WAIT_MS, WAIT_MS, WAIT_MS, WAIT_MS, WAIT_MS);

const cli = (...args: string[]): Promise<CliResult> => start(args).finished();

/** The pids whose parent is `pid` (from /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
const json = async (...args: string[]): Promise<unknown> => {
  const r = await cli('-o', 'json', ...args);
  if (r.code !== 0) throw new Error(`activity-core ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout);
};

async function definitionsCount(): Promise<number> {
  const row = await db
    .selectFrom('definitions')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

beforeAll(async () => {
  stack = await startServiceStack({
    prefix,
    token: TOKEN,
    env: { AC_API_RATE_LIMIT_RPS: '1000', AC_API_RATE_LIMIT_BURST: '1000', LOG_LEVEL: 'warn' },
  });
  ({ db, nc } = stack);
  await stack.start('worker', 'ingest', 'api');
  // Outside the checkout, so the token comes from the environment, not from a data directory.
  work = mkdtempSync(join(tmpdir(), 'ac-cli-'));
  cpSync(join(REPO_ROOT, 'examples/definitions'), join(work, 'definitions'), { recursive: true });
});

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('definitions as code', () => {
  test(
    'apply a folder, diff shows no change, edit a field, diff exits 2 and shows it, apply bumps the version',
    async () => {
      const applied = await cli('apply', '-f', 'definitions');
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(/^created\s+daily-digest\s+v1$/m);
      expect(applied.stdout).toMatch(/^created\s+order-review\s+v1$/m);
      expect(applied.stdout).toMatch(/^created\s+sla-follow-up\s+v1$/m);

      const same = await cli('diff', '-f', 'definitions');
      expect(same.code, same.stderr).toBe(0);
      expect(same.stdout).toContain('Plan: 0 to create, 0 to update, 3 unchanged.');
      // Applying again changes nothing: no new version.
      expect((await cli('apply', '-f', 'definitions')).stdout).toMatch(/^unchanged\s+order-review\s+v1$/m);

      const file = join(work, 'definitions/order-review.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('total >= 500', 'total >= 750'));
      const changed = await cli('diff', '-f', 'definitions');
      expect(changed.code).toBe(2);
      expect(changed.stdout).toMatch(/~ update\s+order-review\s+v1 → v2/);
      expect(changed.stdout).toContain('~ trigger.event.filter: "event.data.total >= 500" → "event.data.total >= 750"');
      expect(changed.stdout).toContain('Plan: 0 to create, 1 to update, 2 unchanged.');

      const updated = await cli('apply', '-f', 'definitions');
      expect(updated.stdout).toMatch(/^updated\s+order-review\s+v2$/m);
      const listed = (await json('get', 'definitions')) as Array<{ key: string; version: number }>;
      expect(listed.map((d) => [d.key, d.version])).toEqual([
        ['daily-digest', 1],
        ['order-review', 2],
        ['sla-follow-up', 1],
      ]);
      const described = await cli('describe', 'definition', 'daily-digest');
      expect(described.code, described.stderr).toBe(0);
      expect(described.stdout).toContain('Trigger:    cron "30 8 * * 1-5" in Europe/Berlin');
      expect(described.stdout).toMatch(
        /Next fires:\n\s+LOCAL\s+OFFSET\s+UTC\n\s+\d{4}-\d\d-\d\d 08:30 (Mon|Tue|Wed|Thu|Fri)/,
      );

      // --prune lists (and apply --prune archives) what the files no longer name.
      rmSync(join(work, 'definitions/sla-follow-up.yaml'));
      const prune = await cli('diff', '-f', 'definitions', '--prune');
      expect(prune.code).toBe(2);
      expect(prune.stdout).toMatch(/- archive\s+sla-follow-up\s+v1/);
      expect((await cli('apply', '-f', 'definitions', '--prune')).stdout).toMatch(/^archived\s+sla-follow-up\s+v1$/m);
      cpSync(join(REPO_ROOT, 'examples/definitions/sla-follow-up.yaml'), join(work, 'definitions/sla-follow-up.yaml'));
    },
    MANY_COMMANDS_MS,
  );

  test('bad input names file, document, line and field, and nothing is applied', async () => {
    const dir = join(work, 'bad');
    cpSync(join(REPO_ROOT, 'examples/definitions/order-review.yaml'), join(dir, 'a-good.yaml'));
    const good = readFileSync(join(dir, 'a-good.yaml'), 'utf8').replace('key: order-review', 'key: would-be-created');
    writeFileSync(join(dir, 'a-good.yaml'), good);
    writeFileSync(join(dir, 'b-broken.yaml'), 'key: broken\nname: [unclosed\n');
    writeFileSync(
      join(dir, 'c-fields.yaml'),
      `${good.replace('key: would-be-created', 'key: second')}---\n${good
        .replace('key: would-be-created', 'key: third')
        .replace('assignee: order-desk', 'assignee: order-desk\n    asignee: typo')
        .replace('timeoutMs: 3000', 'timeoutMs: soon')}`,
    );
    const before = await definitionsCount();
    const result = await cli('apply', '-f', 'bad');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('problems in the definition files; nothing was applied');
    expect(result.stderr).toMatch(/b-broken\.yaml \(document 1, line \d+\): \(document\): invalid YAML/);
    expect(result.stderr).toMatch(
      /c-fields\.yaml \(document 2, line \d+\): contextSources\[0\]\.timeoutMs: must be integer/,
    );
    expect(result.stderr).toMatch(
      /c-fields\.yaml \(document 2, line \d+\): taskTemplates\[0\]\.asignee: unknown field/,
    );
    expect(await definitionsCount()).toBe(before);

    // A document the schema accepts but the API refuses (CEL) is reported the same way.
    rmSync(dir, { recursive: true });
    cpSync(join(REPO_ROOT, 'examples/definitions/order-review.yaml'), join(dir, 'cel.yaml'));
    writeFileSync(
      join(dir, 'cel.yaml'),
      readFileSync(join(dir, 'cel.yaml'), 'utf8').replace('key: order-review', 'key: bad-cel').replace('>= 500', '>= '),
    );
    const cel = await cli('apply', '-f', 'bad');
    expect(cel.code).toBe(3);
    expect(cel.stderr).toMatch(/cel\.yaml \(document 1, line \d+\): trigger\.event\.filter: .*line 1, column/);
    expect(await definitionsCount()).toBe(before);
  });
});

describe('look, try and watch', () => {
  test('runs tail prints the entries of a run triggered meanwhile, and stops on Ctrl-C with 0', async () => {
    const tail = start(['runs', 'tail', '--definition', 'order-review', '--interval', '200ms']);
    await tail.said('following the run log');
    const published = await cli(
      'events',
      'publish',
      '--type',
      'order.created',
      '--source',
      'urn:shop:web',
      '--id',
      'order-tail-1',
      '--data',
      JSON.stringify({ orderId: 'T-1', total: 900, currency: 'EUR', customerId: 'c-1' }),
    );
    expect(published.code, published.stderr).toBe(0);
    // The CRM is not reachable from the test worker: the run fails resolving its context,
    // which the log shows too. What matters: the entries arrive while tail runs.
    await stack.waitFor(
      async () => {
        const out = tail.out();
        return (
          /order-review\s+\S+ #1\s+triggered\s+event order\.created/.test(out) && /run_(finished|failed)/.test(out)
        );
      },
      { what: 'triggered and a final entry in the tail' },
    );
    tail.child.kill('SIGINT');
    expect((await tail.finished()).code).toBe(0);
  });

  test('under a Node that cannot run the sources, the launcher passes a SIGINT sent to it alone on, and exits 0', async () => {
    // Without type stripping (Node before 22.18, like npx on an older system Node) the launcher
    // re-runs the sources under set-up's Node as its child. npx, a supervisor or `kill` may
    // signal the launcher's pid alone; the child must stop too, and the launcher report its exit.
    const tail = start(['runs', 'tail', '--interval', '200ms'], ['--no-experimental-strip-types']);
    await tail.said('following the run log');
    const launcher = tail.child.pid as number;
    const [child, ...others] = childPids(launcher);
    expect(others).toEqual([]);
    expect(child && readFileSync(`/proc/${child}/cmdline`, 'utf8')).toContain('main.ts');
    tail.child.kill('SIGINT');
    const { code, stderr } = await tail.finished();
    expect(code, stderr).toBe(0);
    expect(alive(child as number)).toBe(false);
  });

  test('schedule preview and dry-run explain themselves', async () => {
    const preview = await cli(
      'schedule',
      'preview',
      '0 2 * * *',
      '--tz',
      'Europe/Berlin',
      '--from',
      '2026-03-27T00:00:00Z',
      '--count',
      '3',
    );
    expect(preview.code, preview.stderr).toBe(0);
    // 02:00 does not exist on 2026-03-29 in Berlin: a fixed-time job (gap auto = shift) fires at
    // 03:00 +02:00, and the mark is the server's engine's, not a guess from the offsets.
    expect(preview.stdout).toContain('in Europe/Berlin (DST gap shift, fold first; tz data ');
    expect(preview.stdout).toMatch(
      /2026-03-29 03:00 Sun\s+\+02:00\s+2026-03-29T01:00:00\.000Z\s+DST gap: shifted from 02:00/,
    );
    expect(preview.stdout).toMatch(/2026-03-28 02:00 Sat\s+\+01:00\s+2026-03-28T01:00:00\.000Z\s*$/m);

    writeFileSync(
      join(work, 'event.json'),
      JSON.stringify({
        specversion: '1.0',
        id: 'x',
        source: 'urn:shop:web',
        type: 'order.created',
        data: { orderId: 'test-1', total: 10 },
      }),
    );
    const dry = await cli('dry-run', '-f', 'definitions/order-review.yaml', '--event', '@event.json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/✓ type\s+order\.created matches order\.created/);
    expect(dry.stdout).toMatch(/✓ source\s+urn:shop:web matches urn:shop\*/);
    expect(dry.stdout).toMatch(/✗ filter/);
    expect(dry.stdout).toMatch(/cost \d+ of a budget of \d+ units/);
    expect(dry.stdout).toMatch(/✗ not_a_test_order/);
  });
});

describe('dead letters', () => {
  test(
    'listed, shown and redriven, with plain progress lines when not on a terminal',
    async () => {
      const js = jetstream(nc);
      await js.publish(`${t.events.subjectPrefix}order.created`, new TextEncoder().encode('{ not json'));
      // A valid order that ran out of deliveries while, say, Temporal was down: parked by ingest's
      // MAX_DELIVERIES consumer with this reason and the original bytes.
      const order = {
        specversion: '1.0',
        id: 'order-dlq-1',
        source: 'urn:shop:web',
        type: 'order.created',
        data: { orderId: 'D-1', total: 900, currency: 'EUR', customerId: 'c-1' },
      };
      await publishDeadLetter(js, t, {
        subject: `${t.events.subjectPrefix}order.created`,
        data: new TextEncoder().encode(JSON.stringify(order)),
        headers: undefined,
        stream: t.events.stream,
        streamSeq: 900_001,
        deliveryCount: 5,
        reason: 'max_deliveries',
        message: 'delivered 5 times without an ack',
      });
      const letters = await stack.waitFor(
        async () => {
          const list = (await json('dlq', 'list', '--reason', 'invalid_json')) as Array<{
            seq: number;
            subject: string;
          }>;
          return list.length === 1 ? list : undefined;
        },
        { what: 'the invalid JSON dead-lettered' },
      );
      const invalid = letters[0] as { seq: number; subject: string };
      expect(invalid.subject).toBe(`${t.events.subjectPrefix}order.created`);
      const all = (await json('dlq', 'list', '--subject', 'order.>')) as Array<{ seq: number; reason: string }>;
      expect(all.map((l) => l.reason).sort()).toEqual(['invalid_json', 'max_deliveries']);
      const shown = await cli('dlq', 'show', String(invalid.seq));
      expect(shown.stdout).toContain('Reason:     invalid_json');
      expect(shown.stdout).toContain('{ not json');

      const dry = await cli('dlq', 'redrive', '--reason', 'invalid_json', '--dry-run');
      expect(dry.stdout).toContain('would redrive 1 (dry run)');
      expect(((await json('dlq', 'list')) as unknown[]).length).toBe(2);
      const redrive = await cli('dlq', 'redrive', '--reason', 'invalid_json');
      expect(redrive.code, redrive.stderr).toBe(0);
      expect(redrive.stderr).toContain('redriven 1/1');
      expect(redrive.stdout).toContain('redriven 1 of 1');
      // Back on AC_EVENTS, ingest judges it again: still not JSON, so parked again, as a new letter.
      expect((await cli('dlq', 'show', String(invalid.seq))).code).toBe(6);
      await stack.waitFor(
        async () => {
          const list = (await json('dlq', 'list', '--reason', 'invalid_json')) as Array<{ seq: number }>;
          return list.length === 1 && (list[0]?.seq ?? 0) > invalid.seq;
        },
        { what: 'the redriven invalid JSON dead-lettered again' },
      );

      // The parked order, redriven, starts the run it would have started.
      const before = ((await json('get', 'runs', '--definition', 'order-review')) as unknown[]).length;
      // At a terminal the progress is a bar (on the terminal's one stream, beside the result).
      const orders = await start(['dlq', 'redrive', '--reason', 'max_deliveries'], [], true).finished();
      expect(orders.code, orders.stdout).toBe(0);
      expect(orders.stdout).toMatch(/redrive \[=+\] 1\/1/);
      expect(orders.stdout).not.toContain('redriven 1/1');
      expect(orders.stdout).toContain('redriven 1 of 1');
      const key = eventKey(order);
      await stack.waitFor(
        async () => {
          const runs = (await json('get', 'runs', '--definition', 'order-review')) as Array<{ triggerKey: string }>;
          return runs.length === before + 1 && runs.some((r) => r.triggerKey === key);
        },
        { what: 'the run of the redriven order' },
      );
      expect((await json('dlq', 'list', '--reason', 'max_deliveries')) as unknown[]).toEqual([]);
      expect((await cli('dlq', 'show', '999999')).code).toBe(6);
    },
    MANY_COMMANDS_MS,
  );
});

describe('backtest and replay', () => {
  test(
    'exact counts over a known mix of stored events; replay twice starts runs once',
    async () => {
      const from = new Date(Date.now() - 1000).toISOString();
      const js = jetstream(nc);
      const send = (type: string, id: string, data: Record<string, unknown>, source = 'urn:shop:web') =>
        js.publish(
          `${t.events.subjectPrefix}${type}`,
          JSON.stringify({
            specversion: '1.0',
            id,
            source,
            type,
            data: { currency: 'EUR', customerId: 'c-9', ...data },
          }),
        );
      await send('bt.order.created', 'bt-1', { orderId: 'B-1', total: 900 });
      await send('bt.order.created', 'bt-2', { orderId: 'B-2', total: 1200 });
      await send('bt.order.created', 'bt-3', { orderId: 'test-3', total: 800 });
      await send('bt.order.created', 'bt-4', { orderId: 'B-4', total: 40 });
      await send('bt.order.created', 'bt-5', { orderId: 'B-5', total: 900 }, 'urn:partner');
      await send('bt.order.shipped', 'bt-6', { orderId: 'B-6', total: 900 });
      await send('bt.order.created', 'bt-1', { orderId: 'B-1', total: 900 });
      const spec = readFileSync(join(REPO_ROOT, 'examples/definitions/order-review.yaml'), 'utf8')
        .replace('key: order-review', 'key: bt-review')
        .replace('types: [order.created]', 'types: [bt.order.created]');
      writeFileSync(join(work, 'bt-review.yaml'), spec);
      const result = (await json(
        'backtest',
        '-f',
        'bt-review.yaml',
        '--since',
        from,
        '--subject',
        'bt.>',
        '--context',
        JSON.stringify({ customer: { name: 'Ada' } }),
      )) as Record<string, unknown>;
      expect(result).toMatchObject({
        scanned: 7,
        duplicates: 1,
        events: 6,
        rejected: { type: 1, source: 1, filter: 1, rule: 1 },
        errors: { filter: 0, plan: 0 },
        matched: 3,
        spawning: 2,
        tasksPlanned: 2,
        unresolvedSources: [],
      });
      const sample = result.sample as Array<{ tasks: Array<{ title: string; description: string }> }>;
      expect(sample[0]?.tasks[0]).toMatchObject({ title: 'Review order B-1 (900 EUR)', description: 'Customer: Ada' });

      // Replay needs the definition saved as it is in the file, and --confirm.
      const replay = ['replay', '-f', 'bt-review.yaml', '--since', from, '--subject', 'bt.>'];
      const unsaved = await cli(...replay, '--confirm');
      expect(unsaved.code).toBe(3);
      expect(unsaved.stderr).toContain('apply it first');
      expect((await cli('apply', '-f', 'bt-review.yaml')).code).toBe(0);
      const preview = await cli(...replay);
      expect(preview.stdout).toContain('Nothing started: replay would start up to 3 runs. Add --confirm');
      const once = (await json(...replay, '--confirm')) as Record<string, unknown>;
      expect(once).toMatchObject({ matched: 3, started: 3, alreadyReplayed: 0, skippedLive: 0 });
      const twice = (await json(...replay, '--confirm')) as Record<string, unknown>;
      expect(twice).toMatchObject({ matched: 3, started: 0, alreadyReplayed: 3 });
      const runs = (await json('get', 'runs', '--definition', 'bt-review')) as Array<{ triggerKey: string }>;
      expect(runs).toHaveLength(3);
    },
    MANY_COMMANDS_MS,
  );
});
