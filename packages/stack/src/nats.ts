import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, pollUntil } from './managed-process.ts';
import { freePort } from './ports.ts';
import { natsServerBinary } from './tools.ts';

export interface NatsOptions {
  readonly dir: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly startTimeoutMs?: number;
  /** Join a JetStream cluster: this node's `server_name`, its route port, and every node's route port. */
  readonly cluster?: {
    readonly name: string;
    readonly serverName: string;
    readonly port: number;
    readonly routes: readonly number[];
  };
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
      ...(options.cluster ? [`server_name: ${options.cluster.serverName}`] : []),
      'jetstream {',
      `  store_dir: ${JSON.stringify(storeDir)}`,
      '  max_memory_store: 256MB',
      '  max_file_store: 4GB',
      '}',
      ...(options.cluster
        ? [
            'cluster {',
            `  name: ${options.cluster.name}`,
            `  listen: "127.0.0.1:${options.cluster.port}"`,
            '  routes: [',
            ...options.cluster.routes.map((port) => `    "nats-route://127.0.0.1:${port}"`),
            '  ]',
            '}',
          ]
        : []),
      '',
    ].join('\n'),
  );
  const proc = new ManagedProcess({
    name: options.cluster ? `nats-server ${options.cluster.serverName}` : 'nats-server',
    command: natsServerBinary(),
    args: ['-c', configFile],
    logFile: join(options.dir, 'nats-server.log'),
  });
  const monitorUrl = `http://127.0.0.1:${options.monitorPort}`;
  await proc.waitReady(
    (signal) =>
      pollUntil(async () => {
        // A cluster node is ready when it knows the meta leader and its streams have caught up
        // (full healthz); a single server when JetStream is on.
        const query = options.cluster ? '' : '?js-enabled-only=true';
        const response = await fetch(`${monitorUrl}/healthz${query}`, { signal });
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

/** One node of a local cluster; it keeps its ports and store, so it can be killed and started again. */
export interface NatsClusterNode {
  /** `server_name`: `n1`, `n2`, … (what JetStream reports as a stream's leader). */
  readonly name: string;
  readonly url: string;
  readonly monitorUrl: string;
  /** The node's current process (a new one after `start()`). */
  readonly process: ManagedProcess;
  readonly running: boolean;
  /** Starts the node again with the same config and store; resolves when JetStream is up on it. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no flush, no leadership hand-off. Resolves when the process is gone. */
  kill(): Promise<void>;
}

export interface RunningNatsCluster {
  /** All client URLs, comma-separated (`NATS_URL`). */
  readonly url: string;
  /** Monitoring endpoint of the first node. */
  readonly monitorUrl: string;
  readonly nodes: readonly NatsClusterNode[];
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  readonly dir: string;
  /** Number of nodes (3 or 5 make sense: JetStream needs a majority). */
  readonly size: number;
  /** Client ports of the nodes, in order; free ports when not given. */
  readonly ports?: readonly number[];
  readonly startTimeoutMs?: number;
}

/**
 * Starts `size` nats-servers on loopback as one JetStream cluster: each with its own store under
 * `dir/n{i}`, its own client, route and monitoring ports, routes to all others, and a
 * `server_name`. Resolves when every node reports JetStream healthy (which needs a meta leader).
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<RunningNatsCluster> {
  const names = Array.from({ length: options.size }, (_, i) => `n${i + 1}`);
  const ports = await Promise.all(
    names.map(async (_, i) => ({
      client: options.ports?.[i] ?? (await freePort()),
      route: await freePort(),
      monitor: await freePort(),
    })),
  );
  const routes = ports.map((p) => p.route);
  const nodes = names.map((name, i): NatsClusterNode => {
    const p = ports[i] as (typeof ports)[number];
    const nodeOptions: NatsOptions = {
      dir: join(options.dir, name),
      port: p.client,
      monitorPort: p.monitor,
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      cluster: { name: 'activity-core', serverName: name, port: p.route, routes },
    };
    let current: RunningNats | undefined;
    return {
      name,
      url: `nats://127.0.0.1:${p.client}`,
      monitorUrl: `http://127.0.0.1:${p.monitor}`,
      get process() {
        if (!current) throw new Error(`nats node ${name} has not started`);
        return current.process;
      },
      get running() {
        return current?.process.running ?? false;
      },
      async start() {
        if (current?.process.running) return;
        current = await startNats(nodeOptions);
      },
      async stop() {
        await current?.stop();
      },
      async kill() {
        if (!current?.process.running) return;
        current.process.signal('SIGKILL');
        await current.process.exited;
      },
    };
  });
  const started = await Promise.allSettled(nodes.map((n) => n.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw failed.reason;
  }
  return {
    url: nodes.map((n) => n.url).join(','),
    monitorUrl: (nodes[0] as NatsClusterNode).monitorUrl,
    nodes,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
