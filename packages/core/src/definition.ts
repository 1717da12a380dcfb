import { z } from 'zod';
import {
  type CelEnvironment,
  type CompiledExpression,
  compileExpression,
  eventFilterEnvironment,
  formatCelError,
  ruleEnvironment,
  TEXT_TYPES,
  templateEnvironment,
  windowRuleEnvironment,
  windowTemplateEnvironment,
} from './cel.ts';
import { DEFAULT_EXPRESSION_LIMITS, type ExpressionLimits, expressionBudget, type InputLimits } from './cel-limits.ts';
import { CronTriggerConfig } from './cron.ts';
import { type FieldError, formatPath } from './errors.ts';
import { EventTriggerConfig } from './event-trigger.ts';
import { compileWindowKey } from './event-window.ts';
import { inspectJson, type JsonProblem, STORABLE_ONLY } from './input-limits.ts';
import { type CompiledTemplate, compileTemplate, describeTemplateError } from './template.ts';

const Identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'expected an identifier: a letter or _, then letters, digits or _');
const Template = z.string().max(16_384).describe('text with {{ cel }} holes');
const Cel = z.string().min(1).max(4_096).describe('CEL expression');

/** Definition keys appear in NATS subjects (`tasks.created.{key}`): lower-case slugs. */
export const DefinitionKey = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,62}$/, 'expected a slug: a lower-case letter, then 1-62 lower-case letters, digits or -');

export const StaticContextSource = z.object({ name: Identifier, kind: z.literal('static'), value: z.unknown() });
export const HttpContextSource = z.object({
  name: Identifier,
  kind: z.literal('http'),
  method: z.enum(['GET', 'POST']).default('GET'),
  url: Template.min(1),
  headers: z.record(z.string().min(1), Template).optional(),
  body: z.unknown().optional().describe('JSON; every string in it is a template'),
  timeoutMs: z.number().int().min(1).max(60_000).default(5_000),
  // Retries of the resolveContext activity after a transient failure (network, timeout, 408,
  // 429, 5xx): Temporal's retry policy makes them, one request per attempt; the largest value
  // among a definition's remote sources applies.
  retries: z.number().int().min(0).max(10).default(2),
  maxResponseBytes: z
    .number()
    .int()
    .min(1)
    .max(10 * 1024 * 1024)
    .default(1024 * 1024),
  secretHeaders: z
    .record(
      z.string().min(1),
      // Only variables meant as secrets for definitions: anyone who may write a definition must
      // not be able to send the worker's own credentials (DATABASE_URL, NATS_PASSWORD…) out.
      z
        .string()
        .regex(/^AC_SECRET_[A-Z0-9_]+$/, 'expected the name of an AC_SECRET_* environment variable of the worker'),
    )
    .optional()
    .describe('header name -> AC_SECRET_* environment variable of the worker that holds its value'),
});
export const PreviousRunContextSource = z.object({ name: Identifier, kind: z.literal('previousRun') });
export const OpenTasksContextSource = z.object({
  name: Identifier,
  kind: z.literal('openTasks'),
  dedupeKey: Template.min(1),
});
export const CustomContextSource = z.object({
  name: Identifier,
  kind: z.literal('custom'),
  resolver: z.string().min(1).max(128),
  config: z.unknown().optional(),
});
export const ContextSource = z.discriminatedUnion('kind', [
  StaticContextSource,
  HttpContextSource,
  PreviousRunContextSource,
  OpenTasksContextSource,
  CustomContextSource,
]);
export type ContextSource = z.infer<typeof ContextSource>;

export const Rule = z.object({ name: Identifier, when: Cel });
export type Rule = z.infer<typeof Rule>;

/** ISO-8601 duration such as `PT4H`, `P1D`, `P1DT12H`. */
export const ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;

export const TaskTemplate = z.object({
  key: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'expected a lower-case key: a letter, then letters, digits, _ or -'),
  when: Cel.optional().describe('CEL bool; evaluated per forEach item when forEach is set'),
  forEach: Cel.optional().describe('CEL list; one task per element, exposed as `item` and `index`'),
  title: Template.min(1),
  description: Template.optional(),
  assignee: Template.optional(),
  priority: Template.optional(),
  labels: z
    .union([z.array(Template), Template])
    .optional()
    .describe('templates, or one template yielding a list'),
  due: z
    .string()
    .min(1)
    .max(4_096)
    .optional()
    .describe(
      'ISO-8601 duration from now (PT4H), or a CEL expression yielding a timestamp, RFC 3339 string or duration',
    ),
  dueGraceSeconds: z
    .number()
    .int()
    .min(0)
    .max(365 * 86_400)
    .optional()
    .describe('expiresAt = dueAt + grace'),
  payload: z.unknown().optional().describe('JSON; every string in it is a template'),
  dedupeKey: Template.min(1).optional(),
  onExpired: z
    .boolean()
    .optional()
    .describe('allOf windows only: spawned when the window expires incomplete, instead of when it completes'),
});
export type TaskTemplate = z.infer<typeof TaskTemplate>;

export const DefinitionLimits = z.object({
  maxTasksPerRun: z.number().int().min(1).max(10_000).default(100),
  maxExpressionCost: z
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .optional()
    .describe(
      'cost units one evaluation (a filter, a rule, a template field) may spend; default and maximum are set by the installation (AC_CEL_DEFAULT_COST, AC_CEL_MAX_COST)',
    ),
  // The plan is one activity result, and Temporal refuses payloads over 2 MiB by default:
  // a larger limit would only move the failure from save time to run time.
  maxOutputBytes: z
    .number()
    .int()
    .min(1)
    .max(1536 * 1024)
    .optional(),
});
export type DefinitionLimits = z.infer<typeof DefinitionLimits>;

export const Trigger = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cron'), cron: CronTriggerConfig }),
  z.object({ kind: z.literal('event'), event: EventTriggerConfig }),
]);
export type Trigger = z.infer<typeof Trigger>;

/**
 * The authored part of an ActivityDefinition: when it fires, what context it resolves,
 * which rules must hold and which tasks it spawns. Versioned by the DB; `enabled` lives there.
 */
export const ActivityDefinitionSpec = z
  .object({
    key: DefinitionKey,
    name: z.string().min(1).max(200),
    description: z.string().max(10_000).optional(),
    trigger: Trigger,
    contextSources: z.array(ContextSource).max(32).default([]),
    rules: z.array(Rule).max(64).default([]),
    taskTemplates: z.array(TaskTemplate).min(1, 'at least one task template is required').max(64),
    limits: DefinitionLimits.default({ maxTasksPerRun: 100 }),
  })
  .superRefine((spec, ctx) => {
    const unique = (items: Array<{ name?: string; key?: string }>, field: 'name' | 'key', path: string) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const value = item[field];
        if (value === undefined) return;
        if (seen.has(value))
          ctx.addIssue({ code: 'custom', path: [path, i, field], message: `duplicate ${field} "${value}"` });
        seen.add(value);
      });
    };
    unique(spec.contextSources, 'name', 'contextSources');
    unique(spec.rules, 'name', 'rules');
    unique(spec.taskTemplates, 'key', 'taskTemplates');
    const allOf = spec.trigger.kind === 'event' && spec.trigger.event.window?.mode === 'allOf';
    spec.taskTemplates.forEach((template, i) => {
      if (template.onExpired !== undefined && !allOf) {
        ctx.addIssue({
          code: 'custom',
          path: ['taskTemplates', i, 'onExpired'],
          message: 'onExpired needs an allOf window on the event trigger',
        });
      }
    });
  });
export type ActivityDefinitionSpec = z.infer<typeof ActivityDefinitionSpec>;
export type ActivityDefinitionSpecInput = z.input<typeof ActivityDefinitionSpec>;

export type { FieldError };

/** Every compiled expression and template of a definition, ready for {@link planTasks}. */
export interface CompiledDefinition {
  spec: ActivityDefinitionSpec;
  eventFilter?: CompiledExpression;
  /** The event window's key expression (string over `event`). */
  windowKey?: CompiledExpression;
  rules: Array<{ name: string; when: CompiledExpression }>;
  templates: CompiledTaskTemplate[];
  contextTemplates: Map<string, CompiledValue>;
}

/** A JSON value whose strings are templates. */
export type CompiledValue =
  | { kind: 'template'; template: CompiledTemplate }
  | { kind: 'array'; items: CompiledValue[] }
  | { kind: 'object'; entries: Array<[string, CompiledValue]> }
  | { kind: 'literal'; value: unknown };

export interface CompiledTaskTemplate {
  template: TaskTemplate;
  when?: CompiledExpression;
  forEach?: CompiledExpression;
  title: CompiledTemplate;
  description?: CompiledTemplate;
  assignee?: CompiledTemplate;
  priority?: CompiledTemplate;
  labels?: CompiledTemplate[] | CompiledTemplate;
  due?: { kind: 'duration'; iso: string } | { kind: 'expression'; expression: CompiledExpression };
  payload?: CompiledValue;
  dedupeKey?: CompiledTemplate;
}

export type CompileDefinitionResult = { ok: true; compiled: CompiledDefinition } | { ok: false; errors: FieldError[] };

/** What a template field must render to, checked at save time for a template that is one hole. */
type TemplateKind = 'text' | 'labels' | 'any';

const TEMPLATE_EXPECT: Record<TemplateKind, { expectRaw?: readonly string[]; expectDescription?: string }> = {
  text: {
    expectRaw: TEXT_TYPES,
    expectDescription: 'a value that renders as text (string, number, bool, timestamp or duration)',
  },
  labels: { expectRaw: [...TEXT_TYPES, 'list'], expectDescription: 'text or a list of text' },
  any: {},
};

/** Result types a `due` expression may have: a timestamp, a duration, or a string holding either. */
const DUE_TYPES = ['google.protobuf.Timestamp', 'google.protobuf.Duration', 'string'] as const;

export interface CompileDefinitionOptions {
  /** Installation bounds (default {@link DEFAULT_EXPRESSION_LIMITS}). */
  limits?: ExpressionLimits;
  /**
   * Check each expression's estimate against its budget (save time). Off when running a
   * definition that was saved under other limits: the run-time budget still holds.
   */
  checkCost?: boolean;
  /**
   * Save-time checking: `event` typed as a CloudEvent envelope, filters, rules and `when` must
   * type to `bool`, a template that is one hole to what its field renders, `due` to a time.
   * Off for stored definitions, which keep the checks they were saved under (their results are
   * still checked at run time).
   */
  readonly strict?: boolean;
}

/**
 * Compiles every CEL expression, template and cron/timezone of a parsed spec; each failure is
 * a field error with the expression's position (`taskTemplates[0].title: … (line 1, column 9)`).
 * Each expression's cost estimate must fit the definition's budget (`limits.maxExpressionCost`,
 * else the installation default), and that budget the installation maximum.
 */
export function compileDefinition(
  spec: ActivityDefinitionSpec,
  options: CompileDefinitionOptions = {},
): CompileDefinitionResult {
  const errors: FieldError[] = [];
  const limits = options.limits ?? DEFAULT_EXPRESSION_LIMITS;
  const checkCost = options.checkCost ?? true;
  const requested = spec.limits.maxExpressionCost;
  if (checkCost && requested !== undefined && requested > limits.maxCost) {
    errors.push({
      path: 'limits.maxExpressionCost',
      message: `${requested} is above this installation's maximum of ${limits.maxCost} cost units (AC_CEL_MAX_COST)`,
      code: 'limit_too_high',
    });
  }
  const costOptions = {
    input: limits.input,
    ...(checkCost ? { maxCost: expressionBudget(requested, limits) } : {}),
  };
  const strict = options.strict === true;
  const expr = (
    source: string,
    env: CelEnvironment,
    path: Array<string | number>,
    expect?: readonly string[],
  ): CompiledExpression | undefined => {
    const result = compileExpression(source, env, { ...costOptions, strict, ...(expect ? { expect } : {}) });
    if (result.ok) return result.program;
    errors.push({ path: formatPath(path), message: formatCelError(result.error), code: `cel_${result.error.code}` });
    return undefined;
  };
  const tmpl = (
    source: string,
    env: CelEnvironment,
    path: Array<string | number>,
    kind: TemplateKind,
  ): CompiledTemplate | undefined => {
    const result = compileTemplate(source, env, {
      ...costOptions,
      ...(strict ? { strict, ...TEMPLATE_EXPECT[kind] } : {}),
    });
    if (result.ok) return result.template;
    errors.push({
      path: formatPath(path),
      message: describeTemplateError(result.error),
      code: `template_${result.error.code}`,
    });
    return undefined;
  };
  const value = (
    input: unknown,
    env: CelEnvironment,
    path: Array<string | number>,
    kind: TemplateKind,
  ): CompiledValue => {
    if (typeof input === 'string') {
      const template = tmpl(input, env, path, kind);
      return template ? { kind: 'template', template } : { kind: 'literal', value: input };
    }
    if (Array.isArray(input)) return { kind: 'array', items: input.map((v, i) => value(v, env, [...path, i], kind)) };
    if (input !== null && typeof input === 'object') {
      return {
        kind: 'object',
        entries: Object.entries(input).map(
          ([k, v]) => [k, value(v, env, [...path, k], kind)] as [string, CompiledValue],
        ),
      };
    }
    return { kind: 'literal', value: input };
  };

  const compiled: CompiledDefinition = { spec, rules: [], templates: [], contextTemplates: new Map() };
  if (spec.trigger.kind === 'event' && spec.trigger.event.filter !== undefined) {
    compiled.eventFilter = expr(
      spec.trigger.event.filter,
      eventFilterEnvironment,
      ['trigger', 'event', 'filter'],
      ['bool'],
    );
  }
  const window = spec.trigger.kind === 'event' ? spec.trigger.event.window : undefined;
  if (window !== undefined) {
    const key = compileWindowKey(window.key, costOptions);
    if (key.ok) compiled.windowKey = key.program;
    else {
      errors.push({
        path: 'trigger.event.window.key',
        message: formatCelError(key.error),
        code: `cel_${key.error.code}`,
      });
    }
  }
  // A windowed definition's expressions also see `events` and `window`; others may not name them.
  const ruleEnv = window !== undefined ? windowRuleEnvironment : ruleEnvironment;
  const itemEnv = window !== undefined ? windowTemplateEnvironment : templateEnvironment;
  spec.contextSources.forEach((source, i) => {
    const path = ['contextSources', i];
    if (source.kind === 'http') {
      compiled.contextTemplates.set(source.name, {
        kind: 'object',
        entries: [
          ['url', value(source.url, ruleEnv, [...path, 'url'], 'text')],
          ['headers', value(source.headers ?? {}, ruleEnv, [...path, 'headers'], 'text')],
          ['body', value(source.body ?? null, ruleEnv, [...path, 'body'], 'any')],
        ],
      });
    } else if (source.kind === 'openTasks') {
      compiled.contextTemplates.set(source.name, {
        kind: 'object',
        entries: [['dedupeKey', value(source.dedupeKey, ruleEnv, [...path, 'dedupeKey'], 'text')]],
      });
    }
  });
  spec.rules.forEach((rule, i) => {
    const when = expr(rule.when, ruleEnv, ['rules', i, 'when'], ['bool']);
    if (when) compiled.rules.push({ name: rule.name, when });
  });
  spec.taskTemplates.forEach((template, i) => {
    const path = ['taskTemplates', i];
    const t: Partial<CompiledTaskTemplate> & { template: TaskTemplate } = { template };
    if (template.forEach !== undefined) t.forEach = expr(template.forEach, ruleEnv, [...path, 'forEach'], ['list']);
    if (template.when !== undefined) t.when = expr(template.when, itemEnv, [...path, 'when'], ['bool']);
    t.title = tmpl(template.title, itemEnv, [...path, 'title'], 'text');
    for (const name of ['description', 'assignee', 'priority', 'dedupeKey'] as const) {
      const source = template[name];
      if (source !== undefined) {
        const compiledField = tmpl(source, itemEnv, [...path, name], 'text');
        if (compiledField) t[name] = compiledField;
      }
    }
    if (template.labels !== undefined) {
      if (Array.isArray(template.labels)) {
        t.labels = template.labels.flatMap((label, j) => tmpl(label, itemEnv, [...path, 'labels', j], 'labels') ?? []);
      } else {
        const labels = tmpl(template.labels, itemEnv, [...path, 'labels'], 'labels');
        if (labels) t.labels = labels;
      }
    }
    if (template.due !== undefined) {
      const due = template.due.trim();
      if (ISO_DURATION.test(due)) t.due = { kind: 'duration', iso: due };
      else {
        const source = due.startsWith('{{') && due.endsWith('}}') ? due.slice(2, -2) : due;
        const expression = expr(source, itemEnv, [...path, 'due'], DUE_TYPES);
        if (expression) t.due = { kind: 'expression', expression };
      }
    }
    if (template.payload !== undefined) t.payload = value(template.payload, itemEnv, [...path, 'payload'], 'any');
    if (t.title) compiled.templates.push(t as CompiledTaskTemplate);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, compiled };
}

export type ValidateDefinitionResult = { ok: true; spec: ActivityDefinitionSpec } | { ok: false; errors: FieldError[] };

export interface ValidateDefinitionOptions {
  /**
   * A definition read back from storage: checked as it was when saved (structure, syntax,
   * variables), not with the save-time typing and value limits added since, so an upgrade
   * never stops a definition that ran before. See {@link CompileDefinitionOptions.strict}.
   */
  readonly stored?: boolean;
  /**
   * Installation bounds (default {@link DEFAULT_EXPRESSION_LIMITS}): the expression budget, and
   * the input limits the JSON values a definition holds (static context, http bodies, payloads)
   * must be within. A stored definition is checked against neither.
   */
  readonly limits?: ExpressionLimits;
}

/**
 * Parses and fully validates a definition: structure (zod), then every CEL expression,
 * template, cron expression and timezone, with save-time typing (filters and rules are
 * `bool`, a one-hole title renders as text …) and the input limits on its JSON values.
 * Errors name the field a person has to fix.
 *
 * @example validateDefinitionSpec(yaml) // { ok: false, errors: [{ path: 'trigger.cron.expression', message: … }] }
 */
export function validateDefinitionSpec(
  input: unknown,
  options: ValidateDefinitionOptions = {},
): ValidateDefinitionResult {
  const parsed = ActivityDefinitionSpec.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: issue.message,
        code: issue.code,
      })),
    };
  }
  if (!options.stored) {
    const valueErrors = definitionValueErrors(parsed.data, options.limits?.input);
    if (valueErrors.length > 0) return { ok: false, errors: valueErrors };
  }
  const compiled = compileDefinition(parsed.data, {
    ...(options.limits ? { limits: options.limits } : {}),
    checkCost: !options.stored,
    strict: !options.stored,
  });
  return compiled.ok ? { ok: true, spec: parsed.data } : { ok: false, errors: compiled.errors };
}

/** The free-form JSON values of a definition, checked like event data (depth, size, storable text). */
function definitionValueErrors(spec: ActivityDefinitionSpec, limits: InputLimits | undefined): FieldError[] {
  const values: Array<[unknown, Array<string | number>]> = [];
  spec.contextSources.forEach((source, i) => {
    if (source.kind === 'static') values.push([source.value, ['contextSources', i, 'value']]);
    if (source.kind === 'http' && source.body !== undefined) values.push([source.body, ['contextSources', i, 'body']]);
    if (source.kind === 'custom' && source.config !== undefined) {
      values.push([source.config, ['contextSources', i, 'config']]);
    }
  });
  spec.taskTemplates.forEach((template, i) => {
    if (template.payload !== undefined) values.push([template.payload, ['taskTemplates', i, 'payload']]);
  });
  const errors: FieldError[] = [];
  const fail = (problem: JsonProblem) =>
    errors.push({ path: problem.path, message: problem.message, code: `value_${problem.kind}` });
  for (const [value, path] of values) {
    const problem = inspectJson(value, limits, path);
    if (problem) fail(problem);
  }
  if (errors.length === 0) {
    // The rest of the spec (names, titles, headers…), bounded by its schema: text PostgreSQL can store.
    const problem = inspectJson(spec, STORABLE_ONLY);
    if (problem) fail(problem);
  }
  return errors;
}

/**
 * JSON Schema (draft 2020-12) of the definition format, for editors and YAML users (committed
 * as `schemas/activity-definition.schema.json`). Stricter than the API on one point: objects
 * allow no properties they do not name, so a misspelt field is an error in the editor and in
 * `activity-core apply` instead of being dropped.
 */
export function definitionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ActivityDefinitionSpec, {
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      if (jsonSchema.type === 'object' && jsonSchema.properties && jsonSchema.additionalProperties === undefined) {
        jsonSchema.additionalProperties = false;
      }
    },
  }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'ActivityDefinitionSpec',
    $id: 'https://activity-core.dev/schemas/activity-definition.json',
  };
}

const runtimeCompiled = new WeakMap<
  ActivityDefinitionSpec,
  { readonly limits: ExpressionLimits | undefined; readonly result: CompileDefinitionResult }
>();

/**
 * {@link compileDefinition} of a stored spec as a run uses it (`checkCost: false`: the run-time
 * budget holds), once per spec object and limits: a worker keeps one spec object per pinned
 * version, so its runs share the compiled programs and templates. Specs are never mutated.
 */
export function compileStoredDefinition(
  spec: ActivityDefinitionSpec,
  limits?: ExpressionLimits,
): CompileDefinitionResult {
  const cached = runtimeCompiled.get(spec);
  if (cached && cached.limits === limits) return cached.result;
  const result = compileDefinition(spec, { checkCost: false, ...(limits ? { limits } : {}) });
  runtimeCompiled.set(spec, { limits, result });
  return result;
}
