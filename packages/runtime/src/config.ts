import {
  DEFAULT_EXPRESSION_COST,
  DEFAULT_INPUT_LIMITS,
  DEFAULT_MAX_EXPRESSION_COST_CAP,
  type ExpressionLimits,
} from '@activity-core/core';
import { z } from 'zod';

/** Thrown by `loadConfig` functions; the message lists every bad variable by name. */
export class ConfigError extends Error {
  readonly issues: readonly { readonly variable: string; readonly message: string }[];
  constructor(issues: readonly { variable: string; message: string }[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Parses `env` with `schema` and freezes the result, or throws a ConfigError naming each variable. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({ variable: issue.path.join('.') || '(root)', message: issue.message })),
    );
  }
  return Object.freeze(result.data);
}

const DAY_MS = 24 * 60 * 60 * 1000;
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** A comma-separated list (`a, b,c`): trimmed items, empty ones dropped; unset is the empty list. */
export const envList = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  );

/** Booleans as people write them in env files. */
export const envBoolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Connection settings every service shares. Defaults match `npm start`'s embedded stack. */
export const SharedEnv = {
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .default('postgres://postgres:postgres@127.0.0.1:5432/activity_core'),
  DATABASE_POOL_MAX: positiveInt.default(10),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  NATS_CREDS_FILE: z.string().optional(),
  NATS_TLS_CA_FILE: z.string().optional(),
  NATS_TLS_CERT_FILE: z.string().optional(),
  NATS_TLS_KEY_FILE: z.string().optional(),
  AC_STREAM_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'letters, digits, _ and - only')
    .default(''),
  /**
   * Stream settings (README, "Streams"): copies of each stream and of the ingest consumers in a
   * JetStream cluster (1, 3 or 5), storage, what a full stream discards, each stream's size cap
   * (-1 = none), and per stream how long messages are kept and how long a `Nats-Msg-Id` is
   * remembered. Replicas, ages, windows, discard and the cap are updated in place on start;
   * storage cannot be, and a service refuses to start with a message saying what to do.
   */
  AC_STREAM_REPLICAS: positiveInt.max(5).default(1),
  AC_STREAM_STORAGE: z.enum(['file', 'memory']).default('file'),
  AC_STREAM_DISCARD: z.enum(['old', 'new']).default('old'),
  AC_STREAM_MAX_BYTES: z.coerce.number().int().min(-1).default(-1),
  AC_EVENTS_MAX_AGE_MS: positiveInt.default(7 * DAY_MS),
  AC_TASKS_MAX_AGE_MS: positiveInt.default(7 * DAY_MS),
  AC_DLQ_MAX_AGE_MS: positiveInt.default(30 * DAY_MS),
  AC_EVENTS_DUPLICATE_WINDOW_MS: positiveInt.min(1000).default(10 * 60 * 1000),
  AC_TASKS_DUPLICATE_WINDOW_MS: positiveInt.min(1000).default(60 * 60 * 1000),
  AC_DLQ_DUPLICATE_WINDOW_MS: positiveInt.min(1000).default(2 * 60 * 1000),
  /**
   * Read here only to refuse empty values: the connection (address, namespace, TLS, API key,
   * profile file) is resolved by `loadTemporalSettings` into the config's `temporal`.
   */
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('activity-core'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /**
   * Prefix of this installation's Temporal Schedule ids. Installations sharing a Temporal
   * namespace need distinct prefixes: each removes its prefix's schedules that it has no
   * definition for.
   */
  AC_SCHEDULE_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - only (1-64)')
    .default('ac-def-'),
  /**
   * How far back Temporal still starts cron occurrences it missed while it was down (min 10 s).
   * Worker and API both write Schedules, so they read it from the same variable.
   */
  AC_SCHEDULE_CATCHUP_WINDOW_MS: positiveInt.min(10_000).default(3_600_000),
  /** Budget of one CEL evaluation, in cost units, when a definition sets no `limits.maxExpressionCost`. */
  AC_CEL_DEFAULT_COST: positiveInt.default(DEFAULT_EXPRESSION_COST),
  /** Largest `limits.maxExpressionCost` a definition may set; also caps saved ones at run time. */
  AC_CEL_MAX_COST: positiveInt.max(100_000_000).default(DEFAULT_MAX_EXPRESSION_COST_CAP),
  /**
   * Declared input limits (README, "Input limits"): the deepest nesting of lists and maps, the
   * most elements in one list or keys in one map, and the most bytes in one string, of event
   * data, context values, definition values and API inputs. The save-time CEL cost estimate
   * assumes them. Depth is capped so that what walks a value after the check (CEL conversion,
   * template rendering, JSON.stringify) cannot overflow the stack.
   */
  AC_INPUT_MAX_DEPTH: positiveInt.max(1_000).default(DEFAULT_INPUT_LIMITS.maxDepth),
  AC_INPUT_MAX_ELEMENTS: positiveInt.default(DEFAULT_INPUT_LIMITS.maxListElements),
  AC_INPUT_MAX_BYTES: positiveInt.default(DEFAULT_INPUT_LIMITS.maxBytes),
} as const;

type ExpressionEnv = {
  AC_CEL_DEFAULT_COST: number;
  AC_CEL_MAX_COST: number;
  AC_INPUT_MAX_DEPTH: number;
  AC_INPUT_MAX_ELEMENTS: number;
  AC_INPUT_MAX_BYTES: number;
};

/** The CEL budget and input limits of a loaded config, as the core takes them. */
export function expressionLimits(config: ExpressionEnv): ExpressionLimits {
  if (config.AC_CEL_DEFAULT_COST > config.AC_CEL_MAX_COST) {
    throw new ConfigError([
      {
        variable: 'AC_CEL_DEFAULT_COST',
        message: `must not exceed AC_CEL_MAX_COST (${config.AC_CEL_MAX_COST})`,
      },
    ]);
  }
  return Object.freeze({
    defaultCost: config.AC_CEL_DEFAULT_COST,
    maxCost: config.AC_CEL_MAX_COST,
    input: Object.freeze({
      maxDepth: config.AC_INPUT_MAX_DEPTH,
      maxListElements: config.AC_INPUT_MAX_ELEMENTS,
      maxBytes: config.AC_INPUT_MAX_BYTES,
    }),
  });
}

export const portSchema = port;
export const positiveIntSchema = positiveInt;
