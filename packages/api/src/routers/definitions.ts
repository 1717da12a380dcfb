import {
  ActivityDefinitionSpec,
  buildMatcher,
  type FieldError as CoreFieldError,
  CronTriggerConfig,
  EventEnvelope,
  eventKey,
  planTasks,
  previewOccurrences,
  type ValidateDefinitionOptions,
  validateDefinitionSpec,
} from '@activity-core/core';
import {
  archiveDefinition,
  createDefinition,
  getDefinition,
  listDefinitions,
  listDefinitionVersions,
  setDefinitionEnabled,
  updateDefinition,
} from '@activity-core/db';
import { PROCESS_TZDATA_VERSION } from '@activity-core/schedules';
import { z } from 'zod';
import type { ApiDeps, DefinitionChange } from '../context.ts';
import {
  type Definition,
  type DefinitionVersion,
  type Page,
  type SchedulePreview,
  toDefinition,
  toDefinitionVersion,
} from '../dto.ts';
import { invalidInput } from '../errors.ts';
import { assertBoundedValue, Id, limitsOf, PageInput, Text, Timestamp } from '../inputs.ts';
import { readProcedure, router, writeProcedure } from '../trpc.ts';

/**
 * Validates a spec fully (structure, CEL with save-time typing, templates, cron, timezone,
 * cost within the budget, the input limits of its values); errors are prefixed with `prefix`.
 * A stored spec is checked as it was saved (`stored`), the way the worker runs it: not held to
 * today's typing, value or cost limits (it runs within the run-time budget anyway).
 */
function validSpec(
  deps: ApiDeps,
  spec: unknown,
  prefix: string,
  options: Pick<ValidateDefinitionOptions, 'stored'> = {},
): ActivityDefinitionSpec {
  const result = validateDefinitionSpec(spec, { ...options, limits: limitsOf(deps) });
  if (!result.ok) {
    invalidInput(
      result.errors.map((e: CoreFieldError) => ({
        path: !e.path ? prefix : e.path.startsWith('[') ? `${prefix}${e.path}` : `${prefix}.${e.path}`,
        message: e.message,
      })),
    );
  }
  return result.spec;
}

async function changed(deps: ApiDeps, id: string, change: DefinitionChange): Promise<void> {
  try {
    await deps.onDefinitionChanged(id, change);
  } catch (error) {
    // The write is committed; a failing hook must not turn it into an error for the caller.
    deps.logger.error('onDefinitionChanged hook failed', { definitionId: id, change, error });
  }
}

const SpecInput = ActivityDefinitionSpec;

const EventInput = EventEnvelope.omit({ delivery: true });

const DryRunInput = z
  .object({
    /** An unsaved definition to try… */
    definition: SpecInput.optional(),
    /** …or a saved one (its current version, or `version`). */
    definitionId: Id.optional(),
    version: z.number().int().min(1).optional(),
    event: EventInput,
    /** `now` for the plan (default: the server's clock). */
    now: Timestamp.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.definition === undefined) === (v.definitionId === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['definitionId'],
        message: 'give exactly one of definition or definitionId',
      });
    }
  });

export interface DryRunResult {
  /** True when the event passes the trigger and every rule holds, so tasks would be spawned. */
  readonly wouldTrigger: boolean;
  readonly match: {
    readonly matched: boolean;
    /** Which check said no: `trigger_kind` (not an event trigger), `type` pattern, `source` pattern, `filter`, `filter_error`. */
    readonly reason: 'trigger_kind' | 'type' | 'source' | 'filter' | 'filter_error' | null;
    readonly detail: string | null;
    /**
     * With `filter_error`, the check that failed: `budget` (over the evaluation budget),
     * `evaluation` (a type error, a missing field…), `not_bool`; null otherwise.
     */
    readonly errorCode: string | null;
    /** Cost units the filter was charged, and the budget it ran under (null when no filter ran). */
    readonly cost: number | null;
    readonly budget: number | null;
  };
  /** Static context sources resolved; other kinds are listed in `unresolvedSources` (a dry run makes no calls). */
  readonly context: Record<string, unknown>;
  readonly unresolvedSources: string[];
  /** Rule results and planned tasks; `planError` when evaluation failed. */
  readonly rules: Array<{ name: string; result: boolean }>;
  readonly tasks: Array<Record<string, unknown>>;
  readonly planError: { code: string; path: string; message: string } | null;
}

export const definitionsRouter = router({
  create: writeProcedure
    .input(z.object({ spec: SpecInput, enabled: z.boolean().default(true) }))
    .mutation(async ({ ctx, input }): Promise<Definition> => {
      const spec = validSpec(ctx.deps, input.spec, 'spec');
      const record = await createDefinition(ctx.deps.db, {
        spec,
        enabled: input.enabled,
        createdBy: ctx.principal.name,
      });
      await changed(ctx.deps, record.id, 'created');
      return toDefinition(record, limitsOf(ctx.deps));
    }),

  update: writeProcedure
    .input(z.object({ id: Id, expectedVersion: z.number().int().min(1), spec: SpecInput }))
    .mutation(async ({ ctx, input }): Promise<Definition> => {
      const spec = validSpec(ctx.deps, input.spec, 'spec');
      const current = await getDefinition(ctx.deps.db, input.id);
      if (current.key !== spec.key) {
        invalidInput([{ path: 'spec.key', message: `the key cannot change (it is "${current.key}")` }]);
      }
      const record = await updateDefinition(ctx.deps.db, {
        id: input.id,
        expectedVersion: input.expectedVersion,
        spec,
        updatedBy: ctx.principal.name,
      });
      await changed(ctx.deps, record.id, 'updated');
      return toDefinition(record, limitsOf(ctx.deps));
    }),

  get: readProcedure
    .input(z.object({ id: Id }))
    .query(
      async ({ ctx, input }): Promise<Definition> =>
        toDefinition(await getDefinition(ctx.deps.db, input.id), limitsOf(ctx.deps)),
    ),

  list: readProcedure
    .input(
      z.object({
        ...PageInput,
        enabled: z.boolean().optional(),
        /** false (default): live only; true: archived only; 'any': both. */
        archived: z.union([z.boolean(), z.literal('any')]).default(false),
        keyPrefix: Text(64).optional(),
      }),
    )
    .query(async ({ ctx, input }): Promise<Page<Definition>> => {
      const page = await listDefinitions(ctx.deps.db, {
        limit: input.limit,
        cursor: input.cursor ?? null,
        archived: input.archived,
        ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        ...(input.keyPrefix !== undefined ? { keyPrefix: input.keyPrefix } : {}),
      });
      return { items: page.items.map((r) => toDefinition(r, limitsOf(ctx.deps))), nextCursor: page.nextCursor };
    }),

  setEnabled: writeProcedure
    .input(z.object({ id: Id, enabled: z.boolean() }))
    .mutation(async ({ ctx, input }): Promise<Definition> => {
      const record = await setDefinitionEnabled(ctx.deps.db, input.id, input.enabled);
      await changed(ctx.deps, record.id, input.enabled ? 'enabled' : 'disabled');
      return toDefinition(record, limitsOf(ctx.deps));
    }),

  archive: writeProcedure.input(z.object({ id: Id })).mutation(async ({ ctx, input }): Promise<Definition> => {
    const record = await archiveDefinition(ctx.deps.db, input.id);
    await changed(ctx.deps, record.id, 'archived');
    return toDefinition(record, limitsOf(ctx.deps));
  }),

  versions: readProcedure
    .input(z.object({ id: Id }))
    .query(
      async ({ ctx, input }): Promise<DefinitionVersion[]> =>
        (await listDefinitionVersions(ctx.deps.db, input.id)).map(toDefinitionVersion),
    ),

  previewSchedule: readProcedure
    .input(
      z
        .object({
          /** A cron config to preview… */
          cron: CronTriggerConfig.optional(),
          /** …or a saved cron definition's. */
          definitionId: Id.optional(),
          /** Fire times strictly after this instant (default: now). */
          from: Timestamp.optional(),
          count: z.number().int().min(1).max(100).default(10),
        })
        .superRefine((v, ctx) => {
          if ((v.cron === undefined) === (v.definitionId === undefined)) {
            ctx.addIssue({ code: 'custom', path: ['cron'], message: 'give exactly one of cron or definitionId' });
          }
        }),
    )
    .query(async ({ ctx, input }): Promise<SchedulePreview> => {
      let cron = input.cron;
      if (!cron) {
        const definition = await getDefinition(ctx.deps.db, input.definitionId as string);
        const parsed = ActivityDefinitionSpec.safeParse(definition.spec);
        if (!parsed.success || parsed.data.trigger.kind !== 'cron') {
          invalidInput([{ path: 'definitionId', message: 'this definition has no cron trigger' }]);
        }
        cron = parsed.data.trigger.cron;
      }
      const from = input.from ? new Date(input.from) : (ctx.deps.now?.() ?? new Date());
      const { dst, occurrences } = previewOccurrences(cron, from, input.count);
      return {
        timezone: cron.timezone,
        dst,
        tzdata: PROCESS_TZDATA_VERSION,
        times: occurrences.map((o) => o.at),
        occurrences,
      };
    }),

  dryRun: readProcedure.input(DryRunInput).query(async ({ ctx, input }): Promise<DryRunResult> => {
    let spec: ActivityDefinitionSpec;
    let definition: { id: string; key: string; version: number };
    assertBoundedValue(input.event.data, ['event', 'data'], limitsOf(ctx.deps).input);
    if (input.definition) {
      spec = validSpec(ctx.deps, input.definition, 'definition');
      definition = { id: 'dry-run', key: spec.key, version: 0 };
    } else {
      const stored = await getDefinition(ctx.deps.db, input.definitionId as string);
      let raw = stored.spec;
      let version = stored.version;
      if (input.version !== undefined && input.version !== stored.version) {
        const versions = await listDefinitionVersions(ctx.deps.db, stored.id);
        const found = versions.find((v) => v.version === input.version);
        if (!found) invalidInput([{ path: 'version', message: `definition has no version ${input.version}` }]);
        raw = found.spec;
        version = found.version;
      }
      spec = validSpec(ctx.deps, raw, 'definition', { stored: true });
      definition = { id: stored.id, key: stored.key, version };
    }
    const envelope = EventEnvelope.parse(input.event);

    let match: DryRunResult['match'];
    if (spec.trigger.kind !== 'event') {
      match = {
        matched: false,
        reason: 'trigger_kind',
        detail: `a ${spec.trigger.kind} trigger does not react to events`,
        errorCode: null,
        cost: null,
        budget: null,
      };
    } else {
      const matchable = {
        ...definition,
        trigger: spec.trigger.event,
        ...(spec.limits.maxExpressionCost !== undefined ? { maxExpressionCost: spec.limits.maxExpressionCost } : {}),
      };
      const limits = ctx.deps.expressionLimits ? { limits: ctx.deps.expressionLimits } : {};
      const [explained] = buildMatcher([matchable], limits).explain(envelope);
      match = {
        matched: explained?.matched ?? false,
        reason: explained?.reason ?? null,
        detail: explained?.detail ?? null,
        errorCode: explained?.errorCode ?? null,
        cost: explained?.cost ?? null,
        budget: explained?.budget ?? null,
      };
    }

    const context: Record<string, unknown> = {};
    const unresolvedSources: string[] = [];
    for (const source of spec.contextSources) {
      if (source.kind === 'static') context[source.name] = source.value;
      else unresolvedSources.push(source.name);
    }
    const now = input.now ?? (ctx.deps.now?.() ?? new Date()).toISOString();
    const planned = planTasks({
      spec,
      event: envelope,
      context,
      trigger: { kind: 'event', eventKey: eventKey(envelope) },
      definition,
      now,
      ...(ctx.deps.expressionLimits ? { limits: ctx.deps.expressionLimits } : {}),
    });
    const rules = planned.ok ? planned.plan.rules : [];
    const tasks = planned.ok ? planned.plan.tasks.map((t) => ({ ...t }) as Record<string, unknown>) : [];
    const allRulesHold = planned.ok && rules.every((r) => r.result);
    return {
      wouldTrigger: match.matched && allRulesHold && tasks.length > 0,
      match,
      context,
      unresolvedSources,
      rules,
      tasks,
      planError: planned.ok ? null : { ...planned.error },
    };
  }),
});
