import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { ManagedProcess, pollUntil } from './managed-process.ts';
import { temporalBinary } from './tools.ts';

export interface TemporalOptions {
  readonly dir: string;
  readonly port: number;
  /** Web UI port; `undefined` runs headless. */
  readonly uiPort?: number;
  readonly namespace?: string;
  readonly startTimeoutMs?: number;
}

export interface RunningTemporal {
  readonly address: string;
  readonly namespace: string;
  readonly uiUrl: string | undefined;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with an SQLite file in WAL mode under `dir`, so
 * workflows and schedules survive a restart of the stack.
 */
export async function startTemporal(options: TemporalOptions): Promise<RunningTemporal> {
  mkdirSync(options.dir, { recursive: true });
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--namespace',
    namespace,
    '--db-filename',
    join(options.dir, 'temporal.sqlite'),
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=NORMAL',
    '--log-format',
    'json',
    '--log-level',
    'warn',
    '--dynamic-config-value',
    'system.enableEagerWorkflowStart=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.workerVersioningWorkflowAPIs=true',
  ];
  if (options.uiPort === undefined) {
    args.push('--headless');
  } else {
    args.push('--ui-ip', '127.0.0.1', '--ui-port', String(options.uiPort));
  }
  const proc = new ManagedProcess({
    name: 'temporal',
    command: temporalBinary(),
    args,
    logFile: join(options.dir, 'temporal.log'),
  });
  const address = `127.0.0.1:${options.port}`;
  await proc.waitReady(
    (signal) =>
      pollUntil(
        async () => {
          const connection = await Connection.connect({ address, connectTimeout: 1000 });
          try {
            await connection.workflowService.describeNamespace({ namespace });
            return true;
          } finally {
            await connection.close();
          }
        },
        signal,
        250,
      ),
    options.startTimeoutMs ?? 60_000,
  );
  return {
    address,
    namespace,
    uiUrl: options.uiPort === undefined ? undefined : `http://127.0.0.1:${options.uiPort}`,
    process: proc,
    stop: () => proc.stop(),
  };
}
