import { existsSync } from 'node:fs';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import { ConfigError } from './config.ts';

/** What `@temporalio/common`'s TLSConfig holds (structural: both Connection kinds take it). */
export interface TemporalTls {
  readonly serverNameOverride?: string;
  readonly serverRootCACertificate?: Uint8Array;
  readonly clientCertPair?: { readonly crt: Uint8Array; readonly key: Uint8Array };
}

/** Options of `Connection.connect` / `Connection.lazy` (client) and `NativeConnection.connect` (worker). */
export interface TemporalConnectionOptions {
  readonly address: string;
  /** `true`: TLS with the system's roots; an object: custom CA, SNI, client certificate (mTLS). */
  readonly tls?: TemporalTls | boolean;
  readonly apiKey?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface TemporalSettings {
  readonly address: string;
  readonly namespace: string;
  readonly connection: TemporalConnectionOptions;
  /** How the connection is secured, for logs and /readyz: never the key or certificates themselves. */
  readonly security: { readonly tls: 'off' | 'tls' | 'mtls'; readonly apiKey: boolean };
  /** Whether the address came from the environment or a profile file rather than the local default. */
  readonly configured: boolean;
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/**
 * Temporal's connection settings the way every Temporal SDK and the `temporal` CLI read them
 * (`@temporalio/envconfig`): a TOML profile (`TEMPORAL_CONFIG_FILE`, else
 * `~/.config/temporalio/temporal.toml`; `TEMPORAL_PROFILE`, else `default`), overridden by
 * `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
 * `TEMPORAL_TLS_CLIENT_CERT_PATH|DATA`, `TEMPORAL_TLS_CLIENT_KEY_PATH|DATA`,
 * `TEMPORAL_TLS_SERVER_CA_CERT_PATH|DATA`, `TEMPORAL_TLS_SERVER_NAME` and
 * `TEMPORAL_GRPC_META_*`. An API key turns TLS on unless `TEMPORAL_TLS=false`. Without any of
 * them: the local dev server, `127.0.0.1:7233`, namespace `default`, no TLS.
 * Throws a ConfigError naming what is wrong (an unreadable certificate, an unknown profile, …).
 */
export function loadTemporalSettings(env: Readonly<Record<string, string | undefined>>): TemporalSettings {
  const vars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const file = vars.TEMPORAL_CONFIG_FILE;
  // The SDK treats a missing file as no file; one named on purpose must exist.
  if (file !== undefined && !existsSync(file)) {
    throw new ConfigError([{ variable: 'TEMPORAL_CONFIG_FILE', message: `no file at ${file}` }]);
  }
  if (vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION !== undefined) {
    throw new ConfigError([
      {
        variable: 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
        message: 'not supported by the TypeScript SDK; use TEMPORAL_TLS_SERVER_NAME for a certificate of another name',
      },
    ]);
  }
  let profile: ReturnType<typeof loadClientConfigProfile>;
  let connect: ReturnType<typeof toClientOptions>;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
    connect = toClientOptions(profile);
  } catch (error) {
    // The SDK reads `profile.<name>` of the parsed file without checking that the table exists.
    if (error instanceof TypeError && /reading '[^']*'/.test(error.message)) {
      const name = vars.TEMPORAL_PROFILE ?? 'default';
      const where = file ?? 'the Temporal profile file';
      throw new ConfigError([{ variable: 'TEMPORAL_CONFIG_FILE', message: `${where} has no [profile.${name}] table` }]);
    }
    throw new ConfigError([
      { variable: variableOf(error, vars), message: error instanceof Error ? error.message : String(error) },
    ]);
  }
  const options = connect.connectionOptions;
  const address = options.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const tls = options.tls ?? undefined;
  const metadata = profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? profile.grpcMeta : undefined;
  const connection: TemporalConnectionOptions = {
    address,
    ...(tls !== undefined && tls !== null ? { tls } : {}),
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(metadata ? { metadata } : {}),
  };
  return Object.freeze({
    address,
    namespace: connect.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    connection: Object.freeze(connection),
    security: Object.freeze({
      tls: tlsKind(connection.tls),
      apiKey: connection.apiKey !== undefined,
    }),
    configured: options.address !== undefined,
  });
}

function tlsKind(tls: TemporalConnectionOptions['tls']): 'off' | 'tls' | 'mtls' {
  if (tls === undefined || tls === false) return 'off';
  if (tls !== true && tls.clientCertPair) return 'mtls';
  return 'tls';
}

/** The variable an envconfig error is about: the one naming the file it could not read, else the profile or its file. */
function variableOf(error: unknown, vars: Readonly<Record<string, string>>): string {
  const path = (error as { path?: unknown } | null)?.path;
  if (typeof path === 'string') {
    const named = Object.entries(vars).find(([name, value]) => name.startsWith('TEMPORAL_') && value === path);
    if (named) return named[0];
  }
  if (error instanceof Error && /^Profile '/.test(error.message)) return 'TEMPORAL_PROFILE';
  return 'TEMPORAL_CONFIG_FILE';
}
