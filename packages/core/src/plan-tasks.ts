import { DateTime, Duration } from 'luxon';
import { utf8Length } from './bytes.ts';
import { type CelError, type CompiledExpression, evaluate, formatCelError, toCelValue } from './cel.ts';
import { DEFAULT_EXPRESSION_LIMITS, type ExpressionLimits, expressionBudget } from './cel-limits.ts';
import {
  type ActivityDefinitionSpec,
  type CompiledDefinition,
  type CompiledTaskTemplate,
  type CompiledValue,
  compileStoredDefinition,
} from './definition.ts';
import { formatPath } from './errors.ts';
import { inspectJson, STORABLE_ONLY, setOwn } from './input-limits.ts';
import { runVariables } from './run-variables.ts';
import { type CompiledTemplate, renderTemplate } from './template.ts';

export const PlanErrorCode = {
  invalidDefinition: 'invalid_definition',
  ruleError: 'rule_error',
  ruleNotBool: 'rule_not_bool',
  forEachNotList: 'for_each_not_list',
  evaluationError: 'evaluation_error',
  /** A rule, forEach, when or template field ran out of its cost budget. */
  budgetExceeded: 'budget_exceeded',
  invalidField: 'invalid_field',
  invalidDue: 'invalid_due',
  tooManyTasks: 'too_many_tasks',
  outputTooLarge: 'output_too_large',
  invalidInput: 'invalid_input',
  unstorableValue: 'unstorable_value',
} as const;
export type PlanErrorCode = (typeof PlanErrorCode)[keyof typeof PlanErrorCode];

/** Default for `limits.maxOutputBytes`: the JSON size of all planned tasks together. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

export interface PlannedTask {
  templateKey: string;
  /** Position in the template's `forEach` list (0 without forEach); stable when `when` filters items. */
  index: number;
  title: string;
  description?: string;
  assignee?: string;
  priority?: string;
  labels: string[];
  dueAt?: string;
  expiresAt?: string;
  payload: unknown;
  dedupeKey?: string;
}

export interface PlanInput {
  spec: ActivityDefinitionSpec;
  /** The triggering envelope (absent for cron and manual runs; `event` is then `{}`); a window's last event. */
  event?: unknown;
  /** Windowed definitions: the window's events in arrival order. */
  events?: readonly unknown[];
  /**
   * Windowed definitions: `window` as expressions see it (`windowVariables`). When its
   * `reason` is `expired`, only the templates marked `onExpired` spawn; otherwise only the others.
   */
  window?: Record<string, unknown>;
  /** Resolved context sources by name. */
  context: Record<string, unknown>;
  /** What fired: e.g. `{ kind: 'cron', nominalTime }` or `{ kind: 'event', eventKey }`. */
  trigger: Record<string, unknown>;
  definition: { id: string; key: string; version: number };
  /** RFC 3339; `now` in expressions and the base of relative due dates. */
  now: string;
  /** Installation bounds; each evaluation's budget is `expressionBudget(spec.limits.maxExpressionCost, limits)`. */
  limits?: ExpressionLimits;
}

export interface Plan {
  rules: Array<{ name: string; result: boolean }>;
  tasks: PlannedTask[];
}

export interface PlanError {
  code: PlanErrorCode;
  path: string;
  message: string;
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; error: PlanError };

class PlanFailure {
  readonly error: PlanError;
  constructor(code: PlanErrorCode, path: Array<string | number>, message: string) {
    this.error = { code, path: formatPath(path), message };
  }
}

/**
 * Evaluates the rules and renders the task templates of a definition into concrete tasks.
 * Pure and deterministic: the same input gives the same plan, in template order, with
 * `index` = position in the template's `forEach` list. When a rule is false, `tasks` is empty
 * and `rules` still records every result. Never throws.
 */
export function planTasks(input: PlanInput): PlanResult {
  try {
    return { ok: true, plan: plan(input) };
  } catch (e) {
    if (e instanceof PlanFailure) return { ok: false, error: e.error };
    return {
      ok: false,
      error: { code: PlanErrorCode.evaluationError, path: '', message: e instanceof Error ? e.message : String(e) },
    };
  }
}

function compiledFor(spec: ActivityDefinitionSpec, limits: ExpressionLimits | undefined): CompiledDefinition {
  // Validated when saved (perhaps under other limits); the run-time budget is what holds now.
  const result = compileStoredDefinition(spec, limits);
  if (!result.ok) {
    const first = result.errors[0];
    throw new PlanFailure(
      PlanErrorCode.invalidDefinition,
      first ? [first.path] : [],
      `definition does not compile: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    );
  }
  return result.compiled;
}

/** The variables of one evaluation and the budget every evaluation of this plan gets. */
interface Scope {
  vars: Record<string, unknown>;
  budget: number;
}

function evaluationFailure(error: CelError, path: Array<string | number>): PlanFailure {
  const code = error.code === 'budget' ? PlanErrorCode.budgetExceeded : PlanErrorCode.evaluationError;
  return new PlanFailure(code, path, formatCelError(error));
}

function run(expression: CompiledExpression, scope: Scope, path: Array<string | number>): unknown {
  const result = evaluate(expression, scope.vars, { budget: scope.budget });
  if (!result.ok) throw evaluationFailure(result.error, path);
  return result.value;
}

function render(template: CompiledTemplate, scope: Scope, path: Array<string | number>): unknown {
  const result = renderTemplate(template, scope.vars, { budget: scope.budget });
  if (!result.ok) throw evaluationFailure(result.error, path);
  return result.value;
}

function renderString(template: CompiledTemplate, scope: Scope, path: Array<string | number>): string {
  const value = render(template, scope, path);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new PlanFailure(
    PlanErrorCode.invalidField,
    path,
    `expected text, got ${value === null ? 'null' : typeof value}`,
  );
}

function renderValue(value: CompiledValue, scope: Scope, path: Array<string | number>): unknown {
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'template':
      return render(value.template, scope, path);
    case 'array':
      return value.items.map((item, i) => renderValue(item, scope, [...path, i]));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value.entries) setOwn(out, k, renderValue(v, scope, [...path, k]));
      return out;
    }
  }
}

function plan(input: PlanInput): Plan {
  const limits = input.limits ?? DEFAULT_EXPRESSION_LIMITS;
  const compiled = compiledFor(input.spec, input.limits);
  const budget = expressionBudget(input.spec.limits.maxExpressionCost, limits);
  const nowMs = Date.parse(input.now);
  if (Number.isNaN(nowMs)) throw new PlanFailure(PlanErrorCode.invalidInput, ['now'], 'now must be an RFC 3339 time');
  const base = runVariables(input);
  const rules: Plan['rules'] = [];
  compiled.rules.forEach((rule, i) => {
    const value = run(rule.when, { vars: base, budget }, ['rules', i, 'when']);
    if (typeof value !== 'boolean') {
      throw new PlanFailure(PlanErrorCode.ruleNotBool, ['rules', i, 'when'], `rule ${rule.name} did not yield a bool`);
    }
    rules.push({ name: rule.name, result: value });
  });
  if (rules.some((r) => !r.result)) return { rules, tasks: [] };

  const specLimits = input.spec.limits;
  const maxOutput = specLimits.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const tasks: PlannedTask[] = [];
  let outputBytes = 0;
  const expired = input.window?.reason === 'expired';
  compiled.templates.forEach((template, t) => {
    if ((template.template.onExpired ?? false) !== expired) return;
    const path: Array<string | number> = ['taskTemplates', t];
    let items: unknown[] = [null];
    if (template.forEach) {
      const list = run(template.forEach, { vars: base, budget }, [...path, 'forEach']);
      if (!Array.isArray(list)) {
        throw new PlanFailure(PlanErrorCode.forEachNotList, [...path, 'forEach'], 'forEach did not yield a list');
      }
      items = list;
    }
    items.forEach((item, index) => {
      const scope: Scope = { vars: { ...base, item: toCelValue(item), index: BigInt(index) }, budget };
      if (template.when) {
        const keep = run(template.when, scope, [...path, 'when']);
        if (typeof keep !== 'boolean')
          throw new PlanFailure(PlanErrorCode.invalidField, [...path, 'when'], 'when did not yield a bool');
        if (!keep) return;
      }
      if (tasks.length >= specLimits.maxTasksPerRun) {
        throw new PlanFailure(
          PlanErrorCode.tooManyTasks,
          [...path],
          `the run would create more than limits.maxTasksPerRun = ${specLimits.maxTasksPerRun} tasks`,
        );
      }
      const task = renderTask(template, scope, path, index, nowMs);
      // Only what PostgreSQL cannot store is refused here; a plan's size has limits of its own.
      const unstorable = inspectJson(task, STORABLE_ONLY);
      if (unstorable) {
        throw new PlanFailure(PlanErrorCode.unstorableValue, [...path, unstorable.path], unstorable.message);
      }
      outputBytes += utf8Length(JSON.stringify(task));
      if (outputBytes > maxOutput) {
        throw new PlanFailure(
          PlanErrorCode.outputTooLarge,
          [...path],
          `planned tasks exceed limits.maxOutputBytes = ${maxOutput} bytes`,
        );
      }
      tasks.push(task);
    });
  });
  return { rules, tasks };
}

function renderTask(
  template: CompiledTaskTemplate,
  scope: Scope,
  path: Array<string | number>,
  index: number,
  nowMs: number,
): PlannedTask {
  const task: PlannedTask = {
    templateKey: template.template.key,
    index,
    title: renderString(template.title, scope, [...path, 'title']),
    labels: [],
    payload: template.payload ? renderValue(template.payload, scope, [...path, 'payload']) : null,
  };
  for (const name of ['description', 'assignee', 'priority', 'dedupeKey'] as const) {
    const field = template[name];
    if (field) task[name] = renderString(field, scope, [...path, name]);
  }
  if (template.labels) {
    const raw = Array.isArray(template.labels)
      ? template.labels.map((l, j) => render(l, scope, [...path, 'labels', j]))
      : [render(template.labels, scope, [...path, 'labels'])];
    const labels: string[] = [];
    for (const value of raw.flat()) {
      if (value === null || value === '') continue;
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new PlanFailure(PlanErrorCode.invalidField, [...path, 'labels'], 'labels must be strings');
      }
      if (!labels.includes(String(value))) labels.push(String(value));
    }
    task.labels = labels;
  }
  if (template.due) {
    const dueMs = resolveDue(template.due, scope, [...path, 'due'], nowMs);
    task.dueAt = new Date(dueMs).toISOString();
    const grace = template.template.dueGraceSeconds;
    if (grace !== undefined) task.expiresAt = new Date(dueMs + grace * 1000).toISOString();
  }
  return task;
}

function resolveDue(
  due: NonNullable<CompiledTaskTemplate['due']>,
  scope: Scope,
  path: Array<string | number>,
  nowMs: number,
): number {
  if (due.kind === 'duration') {
    const dt = DateTime.fromMillis(nowMs, { zone: 'utc' }).plus(Duration.fromISO(due.iso));
    if (!dt.isValid) throw new PlanFailure(PlanErrorCode.invalidDue, path, `invalid duration ${due.iso}`);
    return dt.toMillis();
  }
  const value = run(due.expression, scope, path);
  if (typeof value === 'string') {
    const seconds = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
    if (seconds) return nowMs + Number(seconds[1]) * 1000;
    if (/^P/.test(value)) {
      const dt = DateTime.fromMillis(nowMs, { zone: 'utc' }).plus(Duration.fromISO(value));
      if (dt.isValid) return dt.toMillis();
    }
    const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
    if (!Number.isNaN(ms)) return ms;
  }
  throw new PlanFailure(
    PlanErrorCode.invalidDue,
    path,
    'due must yield a timestamp, an RFC 3339 string, a duration or an ISO-8601 duration string',
  );
}
