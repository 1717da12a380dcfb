import {
  ActivityDefinitionSpec,
  type FieldError as CoreFieldError,
  CronTriggerConfig,
  EventEnvelope,
  previewOccurrences,
  type ValidateDefinitionOptions,
  validateDefinitionSpec,
} from '@activity-core/core';
import {
  archiveDefinition,
  createDefinition,
  type DefinitionRecord,
  getDefinition,
  listDefinitions,
  listDefinitionVersions,
  setDefinitionEnabled,
  updateDefinition,
} from '@activity-core/db';
import { PROCESS_TZDATA_VERSION } from '@activity-core/schedules';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { type BacktestResult, backtest, type ReplayResult, replay } from '../backtest.ts';
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
import { type EventEvaluation, evaluateEvent, staticContext, type TriggerCheck } from '../evaluate.ts';
import { assertBoundedValue, Id, limitsOf, PageInput, Text, Timestamp } from '../inputs.ts';
import { diffJson, type FieldChange } from '../spec-diff.ts';
import { adminProcedure, readProcedure, router, writeProcedure } from '../trpc.ts';
import { isSubjectFilter, SubjectFilterMessage } from './subjects.ts';

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

/**
 * A saved definition's current version, or `version`; the spec checked as it was saved
 * (`stored`), the way the worker runs it, not held to today's typing, value or cost limits.
 */
async function loadVersion(
  deps: ApiDeps,
  id: string,
  version: number | undefined,
  field: string,
): Promise<{ stored: DefinitionRecord; spec: ActivityDefinitionSpec; version: number }> {
  const stored = await getDefinition(deps.db, id);
  let raw = stored.spec;
  let at = stored.version;
  if (version !== undefined && version !== stored.version) {
    const found = (await listDefinitionVersions(deps.db, stored.id)).find((v) => v.version === version);
    if (!found) invalidInput([{ path: 'version', message: `definition has no version ${version}` }]);
    raw = found.spec;
    at = found.version;
  }
  return { stored, spec: validSpec(deps, raw, field, { stored: true }), version: at };
}

const SpecInput = ActivityDefinitionSpec;

/** `24h`-style windows are the CLI's business; the API takes instants. */
const WindowInput = {
  /** Events stored at or after this instant… */
  from: Timestamp,
  /** …and at or before this one (default: now). */
  to: Timestamp.optional(),
  /** Only events on this subject (NATS wildcards), with or without the `events.` prefix. */
  subject: z.string().max(255).refine(isSubjectFilter, SubjectFilterMessage).optional(),
  /** Continue after this stream sequence (a truncated result's `lastSeq`). */
  afterSeq: z.number().int().min(0).optional(),
};

/** Most documents one diff compares. */
export const MAX_DIFF_DOCUMENTS = 500;

export interface DiffItem {
  /** Position of the document in the input. */
  readonly index: number;
  readonly key: string | null;
  /** `invalid`: see `errors`, nothing to compare. */
  readonly action: 'create' | 'update' | 'unchanged' | 'invalid';
  /** The saved definition, when there is one. */
  readonly id: string | null;
  readonly version: number | null;
  /** For `update`: each field that differs from the saved current version (after defaults). */
  readonly changes: FieldChange[];
  /** For `update` of an archived definition: it is archived and stays so (keys are never reused). */
  readonly archived: boolean;
  /** For `invalid`: every field error (paths relative to the document). */
  readonly errors: Array<{ path: string; message: string }>;
}

export interface DiffResult {
  readonly items: DiffItem[];
  /** With `prune`: live definitions (under `keyPrefix`) that no document names. */
  readonly prune: Array<{ id: string; key: string; version: number }>;
}

async function liveDefinitions(deps: ApiDeps, keyPrefix: string | undefined, archived: boolean | 'any') {
  const out: DefinitionRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await listDefinitions(deps.db, {
      limit: 500,
      cursor,
      archived,
      ...(keyPrefix !== undefined ? { keyPrefix } : {}),
    });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

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
  /** Each check of the trigger (type, source, filter) with its own verdict; `passed: null` = not configured. */
  readonly checks: TriggerCheck[];
  /** Static context sources resolved; other kinds are listed in `unresolvedSources` (a dry run makes no calls). */
  readonly context: Record<string, unknown>;
  readonly unresolvedSources: string[];
  /**
   * Windowed definitions whose trigger matches: the event's window key, or why it has none
   * (`{error, code}`; ingest parks such an event as `window_key`). The dry run plans the event as
   * a window of one (`events: [event]`, `window.count` 1, reason `closed`). Null otherwise.
   */
  readonly window: EventEvaluation['window'];
  /** Rule results and planned tasks; `planError` when evaluation failed. */
  readonly rules: Array<{ name: string; result: boolean }>;
  readonly tasks: Array<Record<string, unknown>>;
  readonly planError: { code: string; path: string; message: string } | null;
}

/** Most messages one backtest reads, and one replay. */
export const MAX_BACKTEST_MESSAGES = 10_000;
export const MAX_REPLAY_MESSAGES = 1_000;

function windowOf(
  deps: ApiDeps,
  input: {
    from: string;
    to?: string | undefined;
    subject?: string | undefined;
    afterSeq?: number | undefined;
    limit: number;
  },
) {
  const nowDate = deps.now?.() ?? new Date();
  const from = new Date(input.from);
  const to = input.to ? new Date(input.to) : nowDate;
  if (!(from <= to)) invalidInput([{ path: 'to', message: 'must not be before from' }]);
  return {
    from,
    to,
    limit: input.limit,
    now: nowDate.toISOString(),
    ...(input.subject !== undefined ? { subject: input.subject } : {}),
    ...(input.afterSeq !== undefined ? { afterSeq: input.afterSeq } : {}),
  };
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
      const loaded = await loadVersion(ctx.deps, input.definitionId as string, input.version, 'definition');
      spec = loaded.spec;
      definition = { id: loaded.stored.id, key: loaded.stored.key, version: loaded.version };
    }
    const envelope = EventEnvelope.parse(input.event);
    const { context, unresolved } = staticContext(spec);
    const now = input.now ?? (ctx.deps.now?.() ?? new Date()).toISOString();
    const result = evaluateEvent(spec, definition, envelope, { context, now, limits: limitsOf(ctx.deps) });
    return {
      wouldTrigger: result.wouldTrigger,
      match: result.match,
      checks: result.checks,
      context,
      unresolvedSources: unresolved,
      window: result.window,
      rules: result.rules,
      tasks: result.tasks.map((t) => ({ ...t }) as Record<string, unknown>),
      planError: result.planError,
    };
  }),

  /**
   * What applying these documents would change: per document `create`, `update` (with the
   * fields that differ from the saved current version, after defaults) or `unchanged`, or
   * `invalid` with every field error (structure, CEL, templates, cron; a key given twice).
   * With `prune`, the live definitions that no document names. Writes nothing.
   */
  diff: readProcedure
    .input(
      z.object({
        documents: z.array(z.unknown()).min(1).max(MAX_DIFF_DOCUMENTS),
        prune: z.boolean().default(false),
        /** Limit `prune` to keys with this prefix. */
        keyPrefix: Text(64).optional(),
      }),
    )
    .query(async ({ ctx, input }): Promise<DiffResult> => {
      const saved = new Map((await liveDefinitions(ctx.deps, undefined, 'any')).map((d) => [d.key, d]));
      const firstIndex = new Map<string, number>();
      const items = input.documents.map((document, index): DiffItem => {
        const base = { index, id: null, version: null, changes: [], archived: false, errors: [] };
        // As create/update would judge it, so a document apply would refuse shows as invalid.
        const result = validateDefinitionSpec(document, { limits: limitsOf(ctx.deps) });
        const rawKey =
          typeof document === 'object' && document !== null && typeof (document as { key?: unknown }).key === 'string'
            ? (document as { key: string }).key
            : null;
        if (!result.ok) {
          return {
            ...base,
            key: rawKey,
            action: 'invalid',
            errors: result.errors.map((e) => ({ path: e.path, message: e.message })),
          };
        }
        const key = result.spec.key;
        const earlier = firstIndex.get(key);
        if (earlier !== undefined) {
          return {
            ...base,
            key,
            action: 'invalid',
            errors: [{ path: 'key', message: `the key "${key}" is also in document ${earlier + 1}` }],
          };
        }
        firstIndex.set(key, index);
        const current = saved.get(key);
        if (!current) return { ...base, key, action: 'create' };
        const changes = diffJson(current.spec, result.spec);
        return {
          ...base,
          key,
          id: current.id,
          version: current.version,
          archived: current.archivedAt !== null,
          action: changes.length === 0 ? 'unchanged' : 'update',
          changes,
        };
      });
      const prune = input.prune
        ? [...saved.values()]
            .filter(
              (d) =>
                d.archivedAt === null &&
                !firstIndex.has(d.key) &&
                (input.keyPrefix === undefined || d.key.startsWith(input.keyPrefix)),
            )
            .map((d) => ({ id: d.id, key: d.key, version: d.version }))
        : [];
      return { items, prune };
    }),

  /**
   * What a definition (unsaved, or a saved version) would have done with the events stored in
   * `AC_EVENTS` in a window: counts by outcome and a sample of planned tasks. Reads through an
   * ephemeral ordered consumer (no consumer state changes), at most `limit` messages; starts
   * nothing. Context sources other than static are not called: give stand-ins in `context`.
   */
  backtest: readProcedure
    .input(
      z
        .object({
          definition: SpecInput.optional(),
          definitionId: Id.optional(),
          version: z.number().int().min(1).optional(),
          ...WindowInput,
          limit: z.number().int().min(1).max(MAX_BACKTEST_MESSAGES).default(1000),
          /** Values for the non-static context sources, by source name. */
          context: z.record(z.string(), z.json()).default({}),
          sampleSize: z.number().int().min(0).max(100).default(5),
        })
        .superRefine((v, c) => {
          if ((v.definition === undefined) === (v.definitionId === undefined)) {
            c.addIssue({
              code: 'custom',
              path: ['definitionId'],
              message: 'give exactly one of definition or definitionId',
            });
          }
        }),
    )
    .query(async ({ ctx, input }): Promise<BacktestResult> => {
      const window = windowOf(ctx.deps, input);
      if (input.definition) {
        const spec = validSpec(ctx.deps, input.definition, 'definition');
        return backtest(ctx.deps, {
          ...window,
          spec,
          target: { id: 'backtest', key: spec.key, version: 0 },
          saved: false,
          context: input.context,
          sampleSize: input.sampleSize,
          now: window.now,
        });
      }
      const loaded = await loadVersion(ctx.deps, input.definitionId as string, input.version, 'definition');
      return backtest(ctx.deps, {
        ...window,
        spec: loaded.spec,
        target: { id: loaded.stored.id, key: loaded.stored.key, version: loaded.version },
        saved: true,
        context: input.context,
        sampleSize: input.sampleSize,
        now: window.now,
      });
    }),

  /**
   * Backtest a saved definition version over a window, then start a run for every event its
   * trigger accepts, as ingest would have. Run workflow id
   * `run:{definitionId}:replay:{replayKey}:{eventKey}`: a second replay with the same key starts
   * nothing new; events the definition already ran live are skipped.
   */
  replay: adminProcedure
    .input(
      z.object({
        definitionId: Id,
        version: z.number().int().min(1).optional(),
        ...WindowInput,
        limit: z.number().int().min(1).max(MAX_REPLAY_MESSAGES).default(1000),
        /** The replay's scope in run ids; a new key replays the same events again. */
        replayKey: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'a lower-case key: letters, digits, _ . - (1-64)')
          .default('default'),
        sampleSize: z.number().int().min(0).max(100).default(5),
      }),
    )
    .mutation(async ({ ctx, input }): Promise<ReplayResult> => {
      const window = windowOf(ctx.deps, input);
      const loaded = await loadVersion(ctx.deps, input.definitionId, input.version, 'definition');
      if (loaded.stored.archivedAt !== null) {
        throw new TRPCError({ code: 'CONFLICT', message: `definition ${loaded.stored.id} is archived` });
      }
      if (loaded.spec.trigger.kind !== 'event') {
        invalidInput([{ path: 'definitionId', message: 'only event-triggered definitions can replay events' }]);
      }
      if (loaded.spec.trigger.event.window !== undefined) {
        // A window is formed by arrival times and one key's live window workflow; replaying
        // stored events one run each would run a windowed definition on windows that never were.
        invalidInput([
          {
            path: 'definitionId',
            message:
              'a definition with an event window cannot replay events (windows form from live arrivals); backtest it instead',
          },
        ]);
      }
      return replay(ctx.deps, {
        ...window,
        spec: loaded.spec,
        target: { id: loaded.stored.id, key: loaded.stored.key, version: loaded.version },
        saved: true,
        context: {},
        sampleSize: input.sampleSize,
        now: window.now,
        replayKey: input.replayKey,
      });
    }),
});
