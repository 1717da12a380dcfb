import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, pollUntil } from './managed-process.ts';
import { natsServerBinary } from './tools.ts';

export interface NatsOptions {
  readonly dir: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly startTimeoutMs?: number;
}

export interface RunningNats {
  readonly url: string;
  readonly monitorUrl: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts nats-server with JetStream on a file store under `dir`. */
export async function startNats(options: NatsOptions): Promise<RunningNats> {
  const storeDir = join(options.dir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const configFile = join(options.dir, 'nats.conf');
  writeFileSync(
    configFile,
    [
      `listen: "127.0.0.1:${options.port}"`,
      `http: "127.0.0.1:${options.monitorPort}"`,
      'max_payload: 1MB',
      'jetstream {',
      `  store_dir: ${JSON.stringify(storeDir)}`,
      '  max_memory_store: 256MB',
      '  max_file_store: 4GB',
      '}',
      '',
    ].join('\n'),
  );
  const proc = new ManagedProcess({
    name: 'nats-server',
    command: natsServerBinary(),
    args: ['-c', configFile],
    logFile: join(options.dir, 'nats-server.log'),
  });
  const monitorUrl = `http://127.0.0.1:${options.monitorPort}`;
  await proc.waitReady(
    (signal) =>
      pollUntil(async () => {
        const response = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`, { signal });
        return response.ok;
      }, signal),
    options.startTimeoutMs ?? 20_000,
  );
  return {
    url: `nats://127.0.0.1:${options.port}`,
    monitorUrl,
    process: proc,
    stop: () => proc.stop(),
  };
}
