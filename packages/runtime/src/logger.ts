import { assertNever } from '@activity-core/core';
import { isValidTraceId, trace } from '@opentelemetry/api';
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const CENSOR = '[redacted]';

/** Keys whose values never reach a log line, at any depth. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|api[-_]?key|credential|cookie/i;

/**
 * Paths pino censors before anything else looks at a record: the shapes secrets are known to
 * travel in (HTTP headers, the config object, an http context source's secret headers). The
 * deep pass in {@link redact} catches the same keys anywhere else.
 */
export const REDACT_PATHS: readonly string[] = [
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'req.headers.authorization',
  'AC_API_TOKEN',
  '*.AC_API_TOKEN',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'TEMPORAL_API_KEY',
  '*.TEMPORAL_API_KEY',
  'PGPASSWORD',
  'secretHeaders',
  '*.secretHeaders',
];

/**
 * Environment variables whose values are secrets wherever they show up, even inside a message or
 * an error text: the API's bootstrap token, every `AC_SECRET_*` (secret headers of http context
 * sources), NATS and PostgreSQL passwords and tokens, Temporal's API key.
 */
const SECRET_VARIABLE = /^(AC_API_TOKEN|AC_SECRET_.+|NATS_PASSWORD|NATS_TOKEN|PGPASSWORD|TEMPORAL_API_KEY)$/;

/** Shorter values are not replaced by value (they would censor ordinary words); key and URL rules still apply. */
const MIN_SECRET_LENGTH = 4;

/** The secret values in `env` that {@link createLogger} censors wherever they appear. */
export function secretValuesFrom(env: Readonly<Record<string, string | undefined>>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH && SECRET_VARIABLE.test(name)) values.add(value);
  }
  // Longest first, so that a secret containing another is replaced whole.
  return [...values].sort((a, b) => b.length - a.length);
}

type Scrub = (text: string) => string;

function scrubberOf(secrets: readonly string[]): Scrub {
  const known = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH);
  return (text) => {
    // Userinfo of URLs: nats://user:pass@host, postgres://user:pass@host.
    let out = text.replace(/(\w+:\/\/)[^/@\s]+@/g, `$1${CENSOR}@`);
    for (const secret of known) if (out.includes(secret)) out = out.replaceAll(secret, CENSOR);
    return out;
  };
}

const urlsOnly = scrubberOf([]);

/**
 * Replaces values under secret-looking keys, userinfo in URLs and (with `scrub`) known secret
 * values inside strings with `[redacted]`. Errors become `{ name, message, code?, cause? }`.
 * A boolean or `null` under a secret-looking key is kept: it can only say whether a secret is
 * set (`temporal.apiKey: false` on the worker's ready line), never what it is.
 */
export function redact(value: unknown, scrub: Scrub = urlsOnly, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return scrub(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: scrub(value.message),
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(value.cause ? { cause: redact(value.cause, scrub, depth + 1) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, scrub, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && !carriesNoSecret(v) ? CENSOR : redact(v, scrub, depth + 1);
    }
    return out;
  }
  return value;
}

/** Whether a value says at most that a secret is set or not (and so can be logged under a secret's key). */
function carriesNoSecret(value: unknown): boolean {
  return typeof value === 'boolean' || value === null;
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Fields on every line (e.g. `{ service: 'worker' }`). */
  readonly base?: Record<string, unknown>;
  /** Receives each JSON line (without the newline) instead of stderr. */
  readonly write?: (line: string) => void;
  /** Values censored wherever they appear. Default: {@link secretValuesFrom}(`process.env`). */
  readonly secrets?: readonly string[];
}

/**
 * JSON-lines logger on stderr (pino), with redaction: pino's {@link REDACT_PATHS}, then every
 * secret-looking key at any depth, URL userinfo, and the known secret values of the environment
 * in any string, the message included. Each line has `time` (ISO), `level` (debug…error),
 * `pid`, `hostname`, the base and child fields, `message` and the call's fields.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = scrubberOf(options.secrets ?? secretValuesFrom(process.env));
  const write = options.write;
  const destination: DestinationStream = write
    ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
    : pino.destination({ dest: 2, sync: true });
  const root = pino(
    {
      level: options.level ?? 'info',
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: CENSOR },
      mixin: traceFields,
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => redact(record, scrub) as Record<string, unknown>,
      },
    },
    destination,
  );
  const logger = wrap(root, scrub);
  return options.base ? logger.child(options.base) : logger;
}

/**
 * `traceId` and `spanId` of the span active where the line is written (the correlation field
 * that joins a log line to its trace); nothing when tracing is off or no span is active.
 */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return isValidTraceId(traceId) ? { traceId, spanId } : {};
}

function wrap(p: PinoLogger, scrub: Scrub): Logger {
  const at =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (!p.isLevelEnabled(level)) return;
      if (fields) p[level](fields, scrub(message));
      else p[level](scrub(message));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    // pino's bindings formatter sees the root's bindings only: a child's are redacted here.
    child: (fields) => wrap(p.child(redact(fields, scrub) as Record<string, unknown>), scrub),
  };
}

/** A logger that writes nothing: for tests and benchmarks that check what code does, not what it says. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

/** The shape of `@temporalio/common`'s `Logger` (kept structural: this package does not depend on the SDK). */
export interface TemporalLogger {
  log(
    level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR',
    message: string,
    meta?: Record<string | symbol, unknown>,
  ): void;
  trace(message: string, meta?: Record<string | symbol, unknown>): void;
  debug(message: string, meta?: Record<string | symbol, unknown>): void;
  info(message: string, meta?: Record<string | symbol, unknown>): void;
  warn(message: string, meta?: Record<string | symbol, unknown>): void;
  error(message: string, meta?: Record<string | symbol, unknown>): void;
}

/**
 * The Temporal SDK's logs (worker, workflow and activity context loggers, and Core's when
 * forwarded) written through `logger`, so they are JSON lines with the same redaction. Temporal's
 * `runId` is renamed `temporalRunId`: `runId` is activity-core's run id on every line.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const fieldsOf = (meta?: Record<string | symbol, unknown>): Record<string, unknown> | undefined => {
    if (!meta) return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta)) out[k === 'runId' ? 'temporalRunId' : k] = v;
    return out;
  };
  const log: TemporalLogger['log'] = (level, message, meta) => {
    const fields = fieldsOf(meta);
    switch (level) {
      case 'TRACE':
      case 'DEBUG':
        logger.debug(message, fields);
        return;
      case 'INFO':
        logger.info(message, fields);
        return;
      case 'WARN':
        logger.warn(message, fields);
        return;
      case 'ERROR':
        logger.error(message, fields);
        return;
      default:
        return assertNever(level, 'Temporal log level');
    }
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

/**
 * A Temporal SDK logger that writes nothing: the workflow bundler's webpack output, or the SDK
 * lines of a test's or a benchmark's worker.
 */
export const silentTemporalLogger: TemporalLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};
