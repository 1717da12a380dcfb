import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError } from './config.ts';
import { createLogger } from './logger.ts';
import { loadTemporalSettings } from './temporal.ts';

const dir = mkdtempSync(join(tmpdir(), 'ac-temporal-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const bytes = (text: string) => new Uint8Array(Buffer.from(text));
/** No profile file unless a test names one: the home directory's must not leak in. */
const NO_FILE = { XDG_CONFIG_HOME: dir };

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadTemporalSettings', () => {
  test('nothing set: the local dev server, namespace default, no TLS, no key', () => {
    const s = loadTemporalSettings({ ...NO_FILE });
    expect(s).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      connection: { address: '127.0.0.1:7233' },
      security: { tls: 'off', apiKey: false },
      configured: false,
    });
  });

  test('TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE', () => {
    const s = loadTemporalSettings({ ...NO_FILE, TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod' });
    expect(s).toMatchObject({ address: 'temporal:7233', namespace: 'prod', configured: true });
    expect(s.connection).toEqual({ address: 'temporal:7233' });
  });

  test('an API key (Temporal Cloud) turns TLS on with the system roots; TEMPORAL_TLS=false turns it off', () => {
    const cloud = loadTemporalSettings({
      ...NO_FILE,
      TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'acme.a1b2c',
      TEMPORAL_API_KEY: 'key-123',
    });
    expect(cloud.connection).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', apiKey: 'key-123', tls: true });
    expect(cloud.security).toEqual({ tls: 'tls', apiKey: true });
    const plain = loadTemporalSettings({ ...NO_FILE, TEMPORAL_API_KEY: 'key-123', TEMPORAL_TLS: 'false' });
    expect(plain.connection.tls).toBe(false);
    expect(plain.security.tls).toBe('off');
  });

  test('mTLS from certificate files: CA, client pair and server name', () => {
    const s = loadTemporalSettings({
      ...NO_FILE,
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem', 'CA PEM'),
      TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem', 'CERT PEM'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key', 'KEY PEM'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    });
    expect(s.connection.tls).toEqual({
      serverNameOverride: 'temporal.example',
      serverRootCACertificate: bytes('CA PEM'),
      clientCertPair: { crt: bytes('CERT PEM'), key: bytes('KEY PEM') },
    });
    expect(s.security).toEqual({ tls: 'mtls', apiKey: false });
  });

  test('certificates given inline (…_DATA) and TEMPORAL_TLS=true alone', () => {
    const s = loadTemporalSettings({
      ...NO_FILE,
      TEMPORAL_TLS_CLIENT_CERT_DATA: 'CERT',
      TEMPORAL_TLS_CLIENT_KEY_DATA: 'KEY',
    });
    expect(s.connection.tls).toMatchObject({ clientCertPair: { crt: bytes('CERT'), key: bytes('KEY') } });
    expect(loadTemporalSettings({ ...NO_FILE, TEMPORAL_TLS: 'true' }).security.tls).toBe('tls');
  });

  test('TEMPORAL_GRPC_META_* become request metadata', () => {
    const s = loadTemporalSettings({ ...NO_FILE, TEMPORAL_GRPC_META_X_TENANT: 'blue' });
    expect(s.connection.metadata).toEqual({ 'x-tenant': 'blue' });
  });

  test('a TOML profile file, TEMPORAL_PROFILE picks one, and the environment overrides it', () => {
    const toml = file(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "dev:7233"',
        '[profile.prod]',
        'address = "prod.tmprl.cloud:7233"',
        'namespace = "prod.acct"',
        'api_key = "profile-key"',
      ].join('\n'),
    );
    expect(loadTemporalSettings({ TEMPORAL_CONFIG_FILE: toml })).toMatchObject({
      address: 'dev:7233',
      namespace: 'default',
      configured: true,
    });
    const prod = loadTemporalSettings({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' });
    expect(prod.connection).toEqual({ address: 'prod.tmprl.cloud:7233', apiKey: 'profile-key', tls: true });
    expect(prod.namespace).toBe('prod.acct');
    const overridden = loadTemporalSettings({
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'other.acct',
    });
    expect(overridden.namespace).toBe('other.acct');
  });

  test('the default profile file is ~/.config/temporalio/temporal.toml ($XDG_CONFIG_HOME)', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    mkdirSync(join(home, 'temporalio'));
    writeFileSync(join(home, 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "from-home:7233"\n');
    expect(loadTemporalSettings({ XDG_CONFIG_HOME: home }).address).toBe('from-home:7233');
  });

  test('a profile file without the profile table is named as such', () => {
    const empty = file('empty.toml', '# nothing here\n');
    expect(configError(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: empty })).issues).toEqual([
      { variable: 'TEMPORAL_CONFIG_FILE', message: `${empty} has no [profile.default] table` },
    ]);
  });

  test('what is wrong is named: a missing file, an unknown profile, an unreadable certificate, host verification', () => {
    expect(configError(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: join(dir, 'nope.toml') })).issues).toEqual([
      { variable: 'TEMPORAL_CONFIG_FILE', message: expect.stringContaining('nope.toml') },
    ]);
    expect(configError(() => loadTemporalSettings({ ...NO_FILE, TEMPORAL_PROFILE: 'missing' })).issues[0]).toEqual({
      variable: 'TEMPORAL_PROFILE',
      message: expect.stringContaining('missing'),
    });
    const cert = configError(() =>
      loadTemporalSettings({
        ...NO_FILE,
        TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'absent.pem'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: file('k.pem', 'KEY'),
      }),
    );
    expect(cert.issues[0]?.variable).toBe('TEMPORAL_TLS_CLIENT_CERT_PATH');
    expect(
      configError(() => loadTemporalSettings({ ...NO_FILE, TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).issues[0]
        ?.variable,
    ).toBe('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION');
  });
});

describe('the connection security on a log line', () => {
  /** What the worker logs when it is ready (services/worker/src/service.ts), as a JSON record. */
  function readyLine(env: Record<string, string>): Record<string, unknown> {
    const s = loadTemporalSettings({ ...NO_FILE, ...env });
    const lines: string[] = [];
    // No secret values to scrub: only the key rules stand between the key and the line.
    const logger = createLogger({ secrets: [], write: (line) => lines.push(line) });
    logger.info('worker ready', {
      temporal: { address: s.address, namespace: s.namespace, ...s.security },
      connection: s.connection,
    });
    expect(lines).toHaveLength(1);
    return JSON.parse(lines[0] as string) as Record<string, unknown>;
  }

  test('without an API key the line says there is none', () => {
    const line = readyLine({});
    expect(line.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', tls: 'off', apiKey: false });
  });

  test('with an API key the line says there is one, and the key itself is redacted', () => {
    const line = readyLine({ TEMPORAL_API_KEY: 'tk-live-0123456789' });
    expect(line.temporal).toMatchObject({ tls: 'tls', apiKey: true });
    expect(line.connection).toMatchObject({ apiKey: '[redacted]' });
    expect(JSON.stringify(line)).not.toContain('tk-live-0123456789');
  });
});
