import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { type Endpoints, environment, formatExports, formatSummary, maskPassword, shellQuote } from './endpoints.ts';

const endpoints: Endpoints = {
  apiUrl: 'http://127.0.0.1:3000/trpc',
  tokenFile: '/srv/ac/.data/api-token',
  services: { api: 'http://127.0.0.1:3000', ingest: 'http://127.0.0.1:3001', worker: 'http://127.0.0.1:3002' },
  temporalAddress: '127.0.0.1:7233',
  temporalNamespace: 'default',
  temporalTaskQueue: 'activity-core',
  temporalUiUrl: 'http://127.0.0.1:8233',
  natsUrl: 'nats://127.0.0.1:4222',
  natsMonitorUrl: 'http://127.0.0.1:8222',
  databaseUrl: 'postgres://postgres:postgres@127.0.0.1:5432/activity_core',
  externalDatabase: false,
};

describe('the ready summary', () => {
  test('lists every URL: tRPC, each service health and metrics, Temporal, NATS, PostgreSQL with credentials', () => {
    const summary = formatSummary(endpoints);
    for (const url of [
      'http://127.0.0.1:3000/trpc',
      'http://127.0.0.1:3000/readyz',
      'http://127.0.0.1:3000/metrics',
      'http://127.0.0.1:3001/readyz',
      'http://127.0.0.1:3001/metrics',
      'http://127.0.0.1:3002/readyz',
      'http://127.0.0.1:3002/metrics',
      'http://127.0.0.1:8233',
      'nats://127.0.0.1:4222',
      'http://127.0.0.1:8222',
      'postgres://postgres:postgres@127.0.0.1:5432/activity_core',
      '/srv/ac/.data/api-token',
    ]) {
      expect(summary).toContain(url);
    }
    expect(summary).toMatch(/^ {2}worker metrics +http:\/\/127\.0\.0\.1:3002\/metrics$/m);
  });

  test('hides the password of a database given from outside', () => {
    const summary = formatSummary({
      ...endpoints,
      databaseUrl: 'postgres://app:s3cret@db.internal:5432/ac',
      externalDatabase: true,
    });
    expect(summary).toContain('postgres://app:***@db.internal:5432/ac');
    expect(summary).not.toContain('s3cret');
    expect(maskPassword('postgres://db.internal/ac')).toBe('postgres://db.internal/ac');
  });
});

describe('--print-env', () => {
  test('has one variable per summary entry plus the services own', () => {
    const names = environment(endpoints, 'ac_admin_x').map(([name]) => name);
    expect(names).toEqual([
      'AC_API_URL',
      'AC_API_TOKEN',
      'AC_API_TOKEN_FILE',
      'AC_API_HEALTH_URL',
      'AC_API_METRICS_URL',
      'AC_INGEST_HEALTH_URL',
      'AC_INGEST_METRICS_URL',
      'AC_WORKER_HEALTH_URL',
      'AC_WORKER_METRICS_URL',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_TASK_QUEUE',
      'AC_TEMPORAL_UI_URL',
      'NATS_URL',
      'AC_NATS_MONITOR_URL',
      'DATABASE_URL',
    ]);
  });

  test('a POSIX shell reads back exactly the values, whatever they hold', () => {
    const tricky = { ...endpoints, databaseUrl: `postgres://u:it's $HOME \`x\`@h/db` };
    const script = `${formatExports(tricky, 'ac_admin_"quoted"')}printf '%s\\n' "$DATABASE_URL" "$AC_API_TOKEN" "$AC_WORKER_METRICS_URL"`;
    const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' });
    expect(out).toBe(`postgres://u:it's $HOME \`x\`@h/db\nac_admin_"quoted"\nhttp://127.0.0.1:3002/metrics\n`);
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });

  test('without a stored token it says where the token is instead of printing one', () => {
    const out = formatExports({ ...endpoints, tokenFile: undefined }, undefined);
    expect(out).not.toContain('export AC_API_TOKEN=');
    expect(out).toContain('# AC_API_TOKEN: the one npm start was given');
  });
});
