import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createDb, migrateToLatest } from '@activity-core/db';
import { connectNats, ensureStreams, natsSettingsFrom, topology } from '@activity-core/messaging';
import { loadTemporalSettings } from '@activity-core/runtime';
import { ManagedProcess, natsServerBinary, pollUntil, type RunningPostgres, startPostgres } from '@activity-core/stack';
import { jetstreamManager } from '@nats-io/jetstream';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { stackInfo } from '../support/stack.ts';
import { makeTestCertificates, type TestCertificates } from '../support/tls.ts';

// Real TLS handshakes with the connection settings the services read: nats-server requiring
// mutual TLS, PostgreSQL with ssl=on, and Temporal behind a TLS terminator (the dev server has
// no TLS flags: `temporal server start-dev --help` lists none), each with a throw-away CA made
// by openssl for this run.
let dir: string;
let certs: TestCertificates;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ac-tls-'));
  // As root PostgreSQL runs as `postgres`, which must be able to enter here.
  chmodSync(dir, 0o755);
  certs = makeTestCertificates(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const natsEnv = (url: string, extra: Record<string, string | undefined>) => ({ NATS_URL: url, ...extra });

describe('NATS over mutual TLS', () => {
  let server: ManagedProcess;
  let url: string;
  beforeAll(async () => {
    const port = await freePort();
    const monitorPort = await freePort();
    const conf = join(dir, 'nats.conf');
    writeFileSync(
      conf,
      [
        `listen: "127.0.0.1:${port}"`,
        `http: "127.0.0.1:${monitorPort}"`,
        'tls {',
        `  cert_file: ${JSON.stringify(certs.serverCertFile)}`,
        `  key_file: ${JSON.stringify(certs.serverKeyFile)}`,
        `  ca_file: ${JSON.stringify(certs.caFile)}`,
        '  verify: true',
        '}',
        `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }`,
        '',
      ].join('\n'),
    );
    server = new ManagedProcess({ name: 'nats-tls', command: natsServerBinary(), args: ['-c', conf] });
    await server.waitReady(
      (signal) =>
        pollUntil(
          async () => (await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`, { signal })).ok,
          signal,
        ),
      30_000,
    );
    url = `tls://127.0.0.1:${port}`;
  });
  afterAll(() => server?.stop());

  test('NATS_TLS_CA_FILE + NATS_TLS_CERT_FILE/KEY_FILE: connects, makes the streams and round-trips a message', async () => {
    const nc = await connectNats(
      natsSettingsFrom(
        natsEnv(url, {
          NATS_TLS_CA_FILE: certs.caFile,
          NATS_TLS_CERT_FILE: certs.clientCertFile,
          NATS_TLS_KEY_FILE: certs.clientKeyFile,
        }),
        'tls-test',
      ),
    );
    try {
      await ensureStreams(await jetstreamManager(nc), topology('TLS'));
      const sub = nc.subscribe('tls.echo', { max: 1 });
      nc.publish('tls.echo', 'over tls');
      for await (const m of sub) expect(m.string()).toBe('over tls');
      expect(nc.info?.tls_required).toBe(true);
    } finally {
      await nc.close();
    }
  });

  test('without the client certificate, or trusting another CA, the server is not reached', async () => {
    const attempt = (extra: Record<string, string>) =>
      connectNats({ ...natsSettingsFrom(natsEnv(url, extra), 'tls-test') }).then(
        async (nc) => {
          await nc.close();
          return 'connected';
        },
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
    // connectNats retries forever once connected; a refused first connect is an error.
    expect(await attempt({ NATS_TLS_CA_FILE: certs.caFile })).not.toBe('connected');
    expect(
      await attempt({
        NATS_TLS_CA_FILE: certs.otherCaFile,
        NATS_TLS_CERT_FILE: certs.clientCertFile,
        NATS_TLS_KEY_FILE: certs.clientKeyFile,
      }),
    ).not.toBe('connected');
  });
});

describe('PostgreSQL over TLS (sslmode in DATABASE_URL)', () => {
  let server: RunningPostgres;
  beforeAll(async () => {
    server = await startPostgres({
      dir: join(dir, 'pg'),
      port: await freePort(),
      ssl: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
    });
  });
  afterAll(() => server?.stop());

  test('sslmode=verify-full with sslrootcert: the services’ pool migrates over an encrypted, verified session', async () => {
    const url = `${server.urlFor('postgres')}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.caFile)}`;
    const db = createDb({ url, poolMax: 1 });
    try {
      await migrateToLatest(db);
      const { rows } = await sql<{ ssl: boolean; version: string }>`
        select ssl, version from pg_stat_ssl where pid = pg_backend_pid()`.execute(db);
      expect(rows[0]?.ssl).toBe(true);
      expect(rows[0]?.version).toMatch(/^TLSv1\.[23]$/);
    } finally {
      await db.destroy();
    }
  });

  test('a server certificate from another CA is refused under verify-full', async () => {
    const url = `${server.urlFor('postgres')}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.otherCaFile)}`;
    const client = new pg.Client({ connectionString: url });
    await expect(client.connect()).rejects.toThrow(/certificate/i);
    await client.end().catch(() => undefined);
  });
});

describe('Temporal over mutual TLS (TEMPORAL_TLS_* via @temporalio/envconfig)', () => {
  let proxy: TlsServer;
  let address: string;
  beforeAll(async () => {
    const [host, port] = stackInfo().temporalAddress.split(':') as [string, string];
    // Terminates TLS (client certificate required, HTTP/2 by ALPN) and passes the bytes to the dev server.
    proxy = createTlsServer(
      {
        cert: readFileSync(certs.serverCertFile),
        key: readFileSync(certs.serverKeyFile),
        ca: readFileSync(certs.caFile),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (socket) => {
        const upstream = netConnect(Number(port), host);
        socket.pipe(upstream).pipe(socket);
        const end = () => {
          socket.destroy();
          upstream.destroy();
        };
        socket.on('error', end);
        upstream.on('error', end);
        socket.on('close', end);
        upstream.on('close', end);
      },
    );
    proxy.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => proxy?.close(() => resolve())));

  const mtlsEnv = () => ({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: stackInfo().temporalNamespace,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caFile,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCertFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKeyFile,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
    XDG_CONFIG_HOME: dir,
  });

  test('the client (API, ingest, schedules) and the worker’s native connection both handshake and call the server', async () => {
    const settings = loadTemporalSettings(mtlsEnv());
    expect(settings.security).toEqual({ tls: 'mtls', apiKey: false });
    const client = await Connection.connect(settings.connection);
    try {
      const ns = await client.workflowService.describeNamespace({ namespace: settings.namespace });
      expect(ns.namespaceInfo?.name).toBe(settings.namespace);
    } finally {
      await client.close();
    }
    const native = await NativeConnection.connect(settings.connection);
    try {
      const ns = await native.workflowService.describeNamespace({ namespace: settings.namespace });
      expect(ns.namespaceInfo?.name).toBe(settings.namespace);
    } finally {
      await native.close();
    }
  });

  test('without the client certificate, or trusting another CA, the handshake fails', async () => {
    const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noClientCert } = mtlsEnv();
    await expect(NativeConnection.connect(loadTemporalSettings(noClientCert).connection)).rejects.toThrow();
    const otherCa = loadTemporalSettings({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCaFile });
    await expect(NativeConnection.connect(otherCa.connection)).rejects.toThrow();
    await expect(Connection.connect({ ...otherCa.connection, connectTimeout: 2000 })).rejects.toThrow();
  });
});
