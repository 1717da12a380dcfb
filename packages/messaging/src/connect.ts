import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

export interface NatsSettings {
  readonly url: string;
  readonly name?: string;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
  readonly credsFile?: string | undefined;
  readonly tlsCaFile?: string | undefined;
  readonly tlsCertFile?: string | undefined;
  readonly tlsKeyFile?: string | undefined;
}

/** Connects with the configured credentials/TLS and reconnects forever. */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  const tls =
    settings.tlsCaFile || settings.tlsCertFile
      ? {
          ...(settings.tlsCaFile ? { caFile: settings.tlsCaFile } : {}),
          ...(settings.tlsCertFile ? { certFile: settings.tlsCertFile } : {}),
          ...(settings.tlsKeyFile ? { keyFile: settings.tlsKeyFile } : {}),
        }
      : undefined;
  return connect({
    servers: settings.url.split(',').map((s) => s.trim()),
    ...(settings.name ? { name: settings.name } : {}),
    ...(settings.user ? { user: settings.user, pass: settings.password ?? '' } : {}),
    ...(settings.token ? { token: settings.token } : {}),
    ...(settings.credsFile ? { authenticator: credsAuthenticator(readFileSync(settings.credsFile)) } : {}),
    ...(tls ? { tls } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
}

/** The connection variables every service reads (`SharedEnv` of @activity-core/runtime). */
export interface NatsEnv {
  readonly NATS_URL: string;
  readonly NATS_USER?: string | undefined;
  readonly NATS_PASSWORD?: string | undefined;
  readonly NATS_TOKEN?: string | undefined;
  readonly NATS_CREDS_FILE?: string | undefined;
  readonly NATS_TLS_CA_FILE?: string | undefined;
  readonly NATS_TLS_CERT_FILE?: string | undefined;
  readonly NATS_TLS_KEY_FILE?: string | undefined;
}

/** Connection settings from a service's parsed config, named for the server's connection list. */
export function natsSettingsFrom(env: NatsEnv, name: string): NatsSettings {
  return {
    url: env.NATS_URL,
    name,
    user: env.NATS_USER,
    password: env.NATS_PASSWORD,
    token: env.NATS_TOKEN,
    credsFile: env.NATS_CREDS_FILE,
    tlsCaFile: env.NATS_TLS_CA_FILE,
    tlsCertFile: env.NATS_TLS_CERT_FILE,
    tlsKeyFile: env.NATS_TLS_KEY_FILE,
  };
}
