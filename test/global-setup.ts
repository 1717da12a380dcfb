import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StackInfo, startSelectedStack } from '@activity-core/stack';
import type { TestProject } from 'vitest/node';
import { freePort } from './support/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/**
 * One real stack (PostgreSQL, nats-server with JetStream, Temporal dev server) for the whole
 * integration run, on free loopback ports, with data in a throw-away directory. Test files
 * isolate themselves inside it (own database, task queue, stream names), see test/support.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The system temp dir, not the clone: as root PostgreSQL runs as `postgres`, which cannot
  // enter a clone under a private home directory.
  const dataDir = mkdtempSync(join(tmpdir(), 'ac-stack-'));
  // PostgreSQL runs as the `postgres` user when we are root; it must be able to enter here.
  chmodSync(dataDir, 0o755);
  const t0 = Date.now();
  // Ports below the kernel's ephemeral range: between the pick and the servers' binds no
  // outgoing connection or listen(0) on this busy machine can take them (see freePort).
  const ports = {
    postgres: await freePort(),
    nats: await freePort(),
    natsMonitor: await freePort(),
    temporal: await freePort(),
    temporalUi: await freePort(),
  };
  const stack = await startSelectedStack({ dataDir, ports });
  process.stdout.write(`[integration] stack ready in ${Date.now() - t0} ms (data: ${dataDir})\n`);
  const { stop, ...info } = stack;
  project.provide('stack', info);
  return async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
