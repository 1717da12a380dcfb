import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCelValue } from './cel.ts';
import { validateDefinitionSpec } from './definition.ts';
import {
  closedByContent,
  closedByTime,
  compileWindowKey,
  EventWindow,
  evaluateWindowKey,
  joinedProgress,
  opensWindow,
  WINDOW_LIMITS,
  type WindowProgress,
  type WindowSettings,
  windowDeadline,
  windowDurationMs,
  windowKeyHash,
  windowSettings,
} from './event-window.ts';
import { planTasks } from './plan-tasks.ts';

const spec = (window: unknown, extra: Record<string, unknown> = {}) => ({
  key: 'order-digest',
  name: 'Order digest',
  trigger: { kind: 'event', event: { types: ['order.created', 'order.paid', 'order.shipped'], window } },
  taskTemplates: [{ key: 'digest', title: '{{ size(events) }} events about {{ window.key }}' }],
  ...extra,
});
const errorsOf = (input: unknown) => {
  const r = validateDefinitionSpec(input);
  return r.ok ? [] : r.errors.map((e) => e.path);
};

describe('the window schema', () => {
  it('accepts the three modes and fills nothing in', () => {
    for (const window of [
      { mode: 'debounce', key: 'event.data.orderId', quiet: 'PT30S', maxWait: 'PT10M' },
      { mode: 'debounce', key: 'event.data.orderId', quiet: 'PT1S' },
      { mode: 'batch', key: 'event.source', duration: 'PT1M', maxEvents: 10 },
      { mode: 'allOf', key: 'event.data.orderId', types: ['order.paid', 'order.shipped'], duration: 'P1D' },
    ]) {
      expect(errorsOf(spec(window)), JSON.stringify(window)).toEqual([]);
    }
  });

  it.each([
    [{ mode: 'debounce', key: 'event.data.id', quiet: 'PT0.5S' }, 'trigger.event.window.quiet'],
    [{ mode: 'debounce', key: 'event.data.id', quiet: 'P8D' }, 'trigger.event.window.quiet'],
    [{ mode: 'debounce', key: 'event.data.id', quiet: 'P1M' }, 'trigger.event.window.quiet'],
    [{ mode: 'debounce', key: 'event.data.id', quiet: '30 seconds' }, 'trigger.event.window.quiet'],
    [{ mode: 'debounce', key: 'event.data.id', quiet: 'PT1M', maxWait: 'PT30S' }, 'trigger.event.window.maxWait'],
    [{ mode: 'batch', key: 'event.data.id', duration: 'PT1M', maxEvents: 1001 }, 'trigger.event.window.maxEvents'],
    [{ mode: 'batch', key: 'event.data.id', duration: 'PT1M', maxEvents: 0 }, 'trigger.event.window.maxEvents'],
    [{ mode: 'allOf', key: 'event.data.id', types: ['order.paid'], duration: 'PT1H' }, 'trigger.event.window.types'],
    [
      { mode: 'allOf', key: 'event.data.id', types: ['order.paid', 'order.paid'], duration: 'PT1H' },
      'trigger.event.window.types',
    ],
    [
      { mode: 'allOf', key: 'event.data.id', types: ['order.paid', 'invoice.sent'], duration: 'PT1H' },
      'trigger.event.window.types[1]',
    ],
    [{ mode: 'sliding', key: 'event.data.id', duration: 'PT1H' }, 'trigger.event.window.mode'],
    [{ mode: 'batch', key: '', duration: 'PT1M' }, 'trigger.event.window.key'],
  ])('rejects %j at %s', (window, path) => {
    expect(errorsOf(spec(window))).toContain(path);
  });

  it('compiles and type-checks the key at save: syntax, unknown variables, a non-string type', () => {
    expect(errorsOf(spec({ mode: 'batch', key: 'event.data.(', duration: 'PT1M' }))).toEqual([
      'trigger.event.window.key',
    ]);
    expect(errorsOf(spec({ mode: 'batch', key: 'context.x', duration: 'PT1M' }))).toEqual(['trigger.event.window.key']);
    expect(errorsOf(spec({ mode: 'batch', key: '1 + 2', duration: 'PT1M' }))).toEqual(['trigger.event.window.key']);
    expect(errorsOf(spec({ mode: 'batch', key: 'string(event.data.n)', duration: 'PT1M' }))).toEqual([]);
  });

  it("refuses a key whose worst case exceeds the definition's budget, like any other expression", () => {
    const key = 'event.data.xs.all(x, event.data.xs.all(y, x + y >= 0)) ? "a" : "b"';
    const r = validateDefinitionSpec(spec({ mode: 'batch', key, duration: 'PT1M' }));
    expect(r.ok ? [] : r.errors).toEqual([
      expect.objectContaining({ path: 'trigger.event.window.key', code: 'cel_cost' }),
    ]);
  });

  it('gives rules and templates `events` and `window` only when the trigger has a window', () => {
    const plain = spec(undefined, {
      rules: [{ name: 'many', when: 'size(events) > 1' }],
      taskTemplates: [{ key: 't', title: '{{ window.key }}' }],
    });
    expect(errorsOf(plain)).toEqual(['rules[0].when', 'taskTemplates[0].title']);
    const windowed = { ...plain, trigger: spec({ mode: 'batch', key: 'event.source', duration: 'PT1M' }).trigger };
    expect(errorsOf(windowed)).toEqual([]);
  });

  it('allows onExpired templates on allOf windows only', () => {
    const templates = [
      { key: 'both', title: 'paid and shipped' },
      { key: 'late', title: 'not shipped', onExpired: true },
    ];
    const allOf = { mode: 'allOf', key: 'event.data.id', types: ['order.paid', 'order.shipped'], duration: 'PT1H' };
    expect(errorsOf(spec(allOf, { taskTemplates: templates }))).toEqual([]);
    expect(
      errorsOf(spec({ mode: 'batch', key: 'event.source', duration: 'PT1M' }, { taskTemplates: templates })),
    ).toEqual(['taskTemplates[1].onExpired']);
  });

  it('reads durations in weeks, days, hours, minutes and seconds only', () => {
    expect(windowDurationMs('PT1.5S')).toBe(1500);
    expect(windowDurationMs('P1W')).toBe(7 * 86_400_000);
    expect(windowDurationMs('P1DT2H')).toBe(26 * 3_600_000);
    expect(windowDurationMs('P1Y')).toBeUndefined();
    expect(windowDurationMs('P')).toBeUndefined();
    expect(windowDurationMs('PT')).toBeUndefined();
  });

  it('defaults maxWait to the longest duration and maxEvents to the largest batch', () => {
    expect(windowSettings(EventWindow.parse({ mode: 'debounce', key: 'k', quiet: 'PT5S' }))).toEqual({
      mode: 'debounce',
      quietMs: 5000,
      maxWaitMs: WINDOW_LIMITS.maxDurationMs,
    });
    expect(windowSettings(EventWindow.parse({ mode: 'batch', key: 'k', duration: 'PT5S' }))).toEqual({
      mode: 'batch',
      durationMs: 5000,
      maxEvents: WINDOW_LIMITS.maxBatchEvents,
    });
  });
});

describe('the window key', () => {
  const program = (source: string) => {
    const compiled = compileWindowKey(source);
    if (!compiled.ok) throw new Error(compiled.error.message);
    return compiled.program;
  };
  const event = (data: unknown) => toCelValue({ type: 'order.paid', source: 'urn:shop', id: 'e1', data });

  it('is the string the expression yields, hashed for ids', () => {
    expect(evaluateWindowKey(program('event.data.orderId'), event({ orderId: 'o-1' }))).toEqual({
      ok: true,
      key: 'o-1',
      keyHash: windowKeyHash('o-1'),
    });
    expect(windowKeyHash('o-1')).toMatch(/^[0-9a-f]{64}$/);
    expect(windowKeyHash('o-1')).not.toBe(windowKeyHash('o-2'));
  });

  it('says why an event has none: a failing expression, a non-string, an empty or too long string', () => {
    expect(evaluateWindowKey(program('event.data.orderId'), event({}))).toMatchObject({
      ok: false,
      code: 'evaluation',
    });
    expect(evaluateWindowKey(program('event.data.orderId'), event({ orderId: 7 }))).toMatchObject({
      ok: false,
      code: 'not_string',
      message: expect.stringContaining('got number'),
    });
    expect(evaluateWindowKey(program('event.data.orderId'), event({ orderId: '' }))).toMatchObject({
      ok: false,
      code: 'empty',
    });
    const long = 'x'.repeat(WINDOW_LIMITS.maxKeyLength + 1);
    expect(evaluateWindowKey(program('event.data.orderId'), event({ orderId: long }))).toMatchObject({
      ok: false,
      code: 'too_long',
    });
    expect(evaluateWindowKey(program('string(event.data.orderId)'), event({ orderId: 7 }))).toMatchObject({
      ok: true,
      key: '7',
    });
  });

  it('runs under a budget: a key that spends it has none (code budget)', () => {
    const key = program('event.data.xs.all(x, x >= 0) ? "k" : "k"');
    const xs = Array.from({ length: 100 }, (_, i) => i);
    expect(evaluateWindowKey(key, event({ xs }))).toMatchObject({ ok: true, key: 'k' });
    expect(evaluateWindowKey(key, event({ xs }), { budget: 50 })).toMatchObject({ ok: false, code: 'budget' });
  });
});

describe('closing rules', () => {
  const opened = (settings: WindowSettings, at: number, type = 'order.paid'): WindowProgress =>
    joinedProgress(settings, { openedAt: at, lastAt: at, count: 0, typesSeen: [] }, at, type);

  it('debounce: quiet after the last event, at the latest maxWait after the first', () => {
    const s: WindowSettings = { mode: 'debounce', quietMs: 1000, maxWaitMs: 5000 };
    let p = opened(s, 0);
    expect(windowDeadline(s, p)).toEqual({ at: 1000, reason: 'quiet' });
    p = joinedProgress(s, p, 900, 'x');
    expect(windowDeadline(s, p)).toEqual({ at: 1900, reason: 'quiet' });
    expect(closedByTime(s, p, 1899)).toBeNull();
    expect(closedByTime(s, p, 1900)).toBe('quiet');
    for (let t = 1800; t < 5000; t += 800) p = joinedProgress(s, p, t, 'x');
    expect(windowDeadline(s, p)).toEqual({ at: 5000, reason: 'maxWait' });
    expect(closedByContent(s, p)).toBeNull();
  });

  it('batch: duration after the first event, or the maxEvents-th event', () => {
    const s: WindowSettings = { mode: 'batch', durationMs: 3000, maxEvents: 3 };
    let p = opened(s, 10);
    expect(windowDeadline(s, p)).toEqual({ at: 3010, reason: 'duration' });
    p = joinedProgress(s, p, 20, 'x');
    expect(closedByContent(s, p)).toBeNull();
    p = joinedProgress(s, p, 2000, 'x');
    expect(closedByContent(s, p)).toBe('maxEvents');
    expect(windowDeadline(s, p).at).toBe(3010);
  });

  it('allOf: complete once every type (pattern) was seen, in any order; expired after the duration', () => {
    const s: WindowSettings = { mode: 'allOf', durationMs: 60_000, types: ['order.paid', 'order.ship.*'] };
    let p = opened(s, 0, 'order.ship.eu');
    expect(p.typesSeen).toEqual(['order.ship.*']);
    p = joinedProgress(s, p, 5, 'order.created');
    expect(closedByContent(s, p)).toBeNull();
    p = joinedProgress(s, p, 6, 'order.paid');
    expect(closedByContent(s, p)).toBe('complete');
    expect(closedByTime(s, opened(s, 0), 60_000)).toBe('expired');
  });

  it('an allOf window opens only on one of its types; debounce and batch on any event', () => {
    const allOf: WindowSettings = { mode: 'allOf', durationMs: 60_000, types: ['order.paid', 'order.ship.*'] };
    expect(opensWindow(allOf, 'order.paid')).toBe(true);
    expect(opensWindow(allOf, 'order.ship.eu')).toBe(true);
    expect(opensWindow(allOf, 'order.noted')).toBe(false);
    expect(opensWindow(allOf, 'order.ship')).toBe(false);
    expect(opensWindow({ mode: 'debounce', quietMs: 1000, maxWaitMs: 5000 }, 'order.noted')).toBe(true);
    expect(opensWindow({ mode: 'batch', durationMs: 3000, maxEvents: 3 }, 'order.noted')).toBe(true);
  });

  it('never closes by time before its first deadline, and the deadline never moves back (property)', () => {
    const settings = fc.oneof(
      fc.record({
        mode: fc.constant('debounce' as const),
        quietMs: fc.integer({ min: 1000, max: 10_000 }),
        maxWaitMs: fc.integer({ min: 10_000, max: 60_000 }),
      }),
      fc.record({
        mode: fc.constant('batch' as const),
        durationMs: fc.integer({ min: 1000, max: 60_000 }),
        maxEvents: fc.integer({ min: 1, max: 50 }),
      }),
    );
    fc.assert(
      fc.property(settings, fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 40 }), (s, gaps) => {
        let p = opened(s, 0);
        let at = 0;
        let deadline = windowDeadline(s, p).at;
        for (const gap of gaps) {
          at += gap;
          if (closedByTime(s, p, at) || closedByContent(s, p)) break;
          p = joinedProgress(s, p, at, 'x');
          const next = windowDeadline(s, p).at;
          expect(next).toBeGreaterThanOrEqual(deadline);
          expect(next).toBeGreaterThan(at);
          deadline = next;
        }
      }),
    );
  });
});

describe('planning a window', () => {
  const windowed = validateDefinitionSpec({
    key: 'paid-shipped',
    name: 'Paid and shipped',
    trigger: {
      kind: 'event',
      event: {
        types: ['order.paid', 'order.shipped'],
        window: { mode: 'allOf', key: 'event.data.id', types: ['order.paid', 'order.shipped'], duration: 'PT1H' },
      },
    },
    taskTemplates: [
      {
        key: 'done',
        // Not events.map(…).join(…): joining strings of up to the input limit is over the default budget.
        title:
          '{{ window.key }}: {{ events[0].type }}, {{ events[1].type }} ({{ window.count }}, last {{ event.type }})',
      },
      { key: 'chase', title: '{{ window.key }} was not shipped', onExpired: true },
    ],
  });
  if (!windowed.ok) throw new Error(JSON.stringify(windowed.errors));
  const events = [
    { specversion: '1.0', id: 'a', source: 's', type: 'order.shipped', data: { id: 'o-1' } },
    { specversion: '1.0', id: 'b', source: 's', type: 'order.paid', data: { id: 'o-1' } },
  ];
  const plan = (reason: string) =>
    planTasks({
      spec: windowed.spec,
      event: events[1],
      events,
      window: { key: 'o-1', mode: 'allOf', count: 2, reason, opened: new Date(0), closed: new Date(1), dropped: 0 },
      context: {},
      trigger: { kind: 'window' },
      definition: { id: 'd', key: 'paid-shipped', version: 1 },
      now: '2027-01-01T00:00:00Z',
    });

  it('sees events in arrival order, the last as `event`, and the window', () => {
    const result = plan('complete');
    expect(result.ok && result.plan.tasks.map((t) => [t.templateKey, t.title])).toEqual([
      ['done', 'o-1: order.shipped, order.paid (2, last order.paid)'],
    ]);
  });

  it('spawns only the onExpired templates when the window expired', () => {
    const result = plan('expired');
    expect(result.ok && result.plan.tasks.map((t) => [t.templateKey, t.title])).toEqual([
      ['chase', 'o-1 was not shipped'],
    ]);
  });
});
