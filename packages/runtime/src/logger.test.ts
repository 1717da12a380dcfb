import { describe, expect, test, vi } from 'vitest';
import {
  createLogger,
  type LoggerOptions,
  secretValuesFrom,
  silentLogger,
  silentTemporalLogger,
  temporalLogger,
} from './logger.ts';

function capture(options: Omit<LoggerOptions, 'write'> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ secrets: [], ...options, write: (line) => lines.push(line) });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('createLogger (pino)', () => {
  test('one JSON line per call: time, level label, pid, base and child fields, message, fields', () => {
    const { logger, lines, records } = capture({ base: { service: 'worker' } });
    logger.child({ runId: 'r1' }).info('run recorded', { workflowId: 'w1' });
    expect(lines).toHaveLength(1);
    const [record] = records();
    expect(record).toMatchObject({
      level: 'info',
      service: 'worker',
      runId: 'r1',
      workflowId: 'w1',
      message: 'run recorded',
      pid: process.pid,
    });
    expect(new Date(String(record?.time)).toISOString()).toBe(record?.time);
  });

  test('lines under the level are not written', () => {
    const { logger, records } = capture({ level: 'warn' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(records().map((r) => [r.level, r.message])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });

  test('authorization and cookie headers, tokens, passwords and secret headers are censored at any depth', () => {
    const { logger, lines } = capture();
    logger.info('request', {
      headers: { authorization: 'Bearer hdr-secret-1', cookie: 'sid=cookie-secret-2', accept: 'json' },
      req: { headers: { authorization: 'Bearer hdr-secret-3' } },
      config: { AC_API_TOKEN: 'cfg-secret-4', NATS_PASSWORD: 'cfg-secret-5', TEMPORAL_API_KEY: 'cfg-secret-6' },
      source: { kind: 'http', secretHeaders: { 'x-api-key': 'AC_SECRET_CRM' } },
      deep: { a: { b: { c: { apiKey: 'deep-secret-7', password: 'deep-secret-8' } } } },
    });
    const line = lines.join('\n');
    for (let i = 1; i <= 8; i++) expect(line).not.toMatch(new RegExp(`secret-${i}\\b`));
    expect(line).not.toContain('AC_SECRET_CRM');
    expect(line).toContain('"accept":"json"');
    expect(line).toContain('[redacted]');
  });

  test('a flag under a secret-looking key is kept: it says whether the secret is set, not what it is', () => {
    const { logger, records } = capture();
    logger.info('ready', { temporal: { apiKey: false }, nats: { token: true, password: null }, apiKey: 'ak-secret-1' });
    expect(records()[0]).toMatchObject({
      temporal: { apiKey: false },
      nats: { token: true, password: null },
      apiKey: '[redacted]',
    });
  });

  test('passwords in NATS and PostgreSQL URLs are censored in fields, errors and the message', () => {
    const { logger, lines } = capture();
    logger.warn('cannot reach nats://app:nats-pw-1@nats:4222', {
      url: 'postgres://app:pg-pw-2@db:5432/ac?sslmode=require',
      error: new Error('connect failed for postgresql://u:pg-pw-3@db/x', { cause: new Error('tls://a:b-pw-4@h') }),
    });
    const line = lines.join('\n');
    for (const pw of ['nats-pw-1', 'pg-pw-2', 'pg-pw-3', 'b-pw-4']) expect(line).not.toContain(pw);
    expect(line).toContain('postgres://[redacted]@db:5432/ac?sslmode=require');
  });

  test('known secret values are censored wherever they appear, under any key and in the message', () => {
    const { logger, lines } = capture({ secrets: secretValuesFrom({ AC_SECRET_CRM_TOKEN: 'crm-0123456789' }) });
    logger.error('upstream said crm-0123456789 is invalid', {
      detail: 'body: {"echo":"Bearer crm-0123456789"}',
      list: ['x', 'crm-0123456789'],
      error: new Error('rejected crm-0123456789'),
    });
    logger.child({ note: 'crm-0123456789' }).info('child');
    expect(lines.join('\n')).not.toContain('crm-0123456789');
    expect(lines.join('\n').match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(5);
  });

  test('the default secret list is read from process.env', () => {
    const previous = process.env.AC_SECRET_LOGGER_TEST;
    process.env.AC_SECRET_LOGGER_TEST = 'env-secret-value-42';
    try {
      const lines: string[] = [];
      createLogger({ write: (l) => lines.push(l) }).info('value env-secret-value-42');
      expect(lines.join('')).not.toContain('env-secret-value-42');
    } finally {
      if (previous === undefined) delete process.env.AC_SECRET_LOGGER_TEST;
      else process.env.AC_SECRET_LOGGER_TEST = previous;
    }
  });

  test('errors keep name, message, code and cause', () => {
    const { logger, records } = capture();
    const error = Object.assign(new Error('outer', { cause: new TypeError('inner') }), { code: 'E_X' });
    logger.error('failed', { error });
    expect(records()[0]?.error).toEqual({
      name: 'Error',
      message: 'outer',
      code: 'E_X',
      cause: { name: 'TypeError', message: 'inner' },
    });
  });
});

describe('secretValuesFrom', () => {
  test('takes the secret variables only, longest first, skipping values too short to censor by value', () => {
    expect(
      secretValuesFrom({
        AC_API_TOKEN: 'token-abcdef',
        AC_SECRET_A: 'aaaa',
        AC_SECRET_B: 'x',
        NATS_PASSWORD: 'nats-password-long',
        NATS_TOKEN: 'ntok',
        PGPASSWORD: 'pgpw',
        TEMPORAL_API_KEY: 'tkey-1234',
        DATABASE_URL: 'postgres://u:p@h/d',
        AC_STREAM_PREFIX: 'PREFIX',
      }),
    ).toEqual(['nats-password-long', 'token-abcdef', 'tkey-1234', 'aaaa', 'ntok', 'pgpw']);
  });
});

describe('temporalLogger', () => {
  test('maps the SDK levels and meta onto the logger, Temporal runId as temporalRunId', () => {
    const { logger, records } = capture({ level: 'debug' });
    const sdk = temporalLogger(logger);
    sdk.trace('t', { sdkComponent: 'core' });
    sdk.debug('d');
    sdk.info('i', { workflowId: 'wf', runId: 'temporal-run', [Symbol('ts')]: 1n });
    sdk.warn('w');
    sdk.log('ERROR', 'e', { sdkComponent: 'worker' });
    expect(records().map((r) => [r.level, r.message])).toEqual([
      ['debug', 't'],
      ['debug', 'd'],
      ['info', 'i'],
      ['warn', 'w'],
      ['error', 'e'],
    ]);
    expect(records()[2]).toMatchObject({ workflowId: 'wf', temporalRunId: 'temporal-run' });
    expect(records()[2]).not.toHaveProperty('runId');
  });

  test('SDK log lines get the same redaction', () => {
    const { logger, lines } = capture({ secrets: ['sdk-secret-value'] });
    temporalLogger(logger).warn('Activity failed', {
      error: new Error('HTTP 401: sdk-secret-value rejected'),
      headers: { authorization: 'Bearer other' },
    });
    expect(lines.join('')).not.toContain('sdk-secret-value');
    expect(lines.join('')).not.toContain('Bearer other');
  });
});

describe('the silent loggers', () => {
  test('write nothing at any level, and a child of the silent logger is silent too', () => {
    const stderr = vi.spyOn(process.stderr, 'write');
    const stdout = vi.spyOn(process.stdout, 'write');
    try {
      const child = silentLogger.child({ runId: 'r1' });
      for (const logger of [silentLogger, child]) {
        logger.debug('d', { a: 1 });
        logger.info('i');
        logger.warn('w');
        logger.error('e', { error: new Error('x') });
      }
      expect(child).toBe(silentLogger);
      silentTemporalLogger.log('ERROR', 'l', { a: 1 });
      for (const level of ['trace', 'debug', 'info', 'warn', 'error'] as const) silentTemporalLogger[level](level);
      expect(stderr).not.toHaveBeenCalled();
      expect(stdout).not.toHaveBeenCalled();
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  });
});
