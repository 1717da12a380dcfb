import { performance } from 'node:perf_hooks';
import { startApiService } from '@activity-core/api-service';
import { loadConfig } from '@activity-core/api-service/config';
import { createActivityCoreClient } from '@activity-core/client';
import { ActivityDefinitionSpec } from '@activity-core/core';
import { createApiToken, createDb, createDefinition, listDefinitions, migrateToLatest } from '@activity-core/db';
import { runBench } from './support.ts';

const iterations = Number(process.argv[2] ?? 300);
const warmup = 30;

function spec(key: string) {
  return {
    key,
    name: `Bench ${key}`,
    trigger: { kind: 'event' as const, event: { types: ['order.created'], filter: 'event.data.total > 100' } },
    rules: [{ name: 'big', when: 'event.data.total > 100' }],
    taskTemplates: [{ key: 'review', title: 'Review order {{ event.data.orderId }}' }],
  };
}

async function measure(name: string, n: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { name, n, p50: at(0.5), p95: at(0.95), mean };
}

const token = 'bench-bootstrap-token-0123456789';
await runBench(async (stack) => {
  const db = createDb({ url: stack.databaseUrl, poolMax: 4 });
  await migrateToLatest(db);
  const api = await startApiService(
    loadConfig({
      DATABASE_URL: stack.databaseUrl,
      NATS_URL: stack.natsUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.temporalNamespace,
      AC_API_PORT: '0',
      AC_API_TOKEN: token,
      AC_API_RATE_LIMIT_RPS: '1000000',
      AC_API_RATE_LIMIT_BURST: '1000000',
      LOG_LEVEL: 'error',
    }),
  );
  const url = `http://127.0.0.1:${api.port}/trpc`;
  const viaBootstrap = createActivityCoreClient({ url, token });
  const stored = await createApiToken(db, { name: 'bench', scopes: ['write'] });
  const viaStoredToken = createActivityCoreClient({ url, token: stored.secret });

  // 200 definitions to list from (pages of 50).
  for (let i = 0; i < 200; i++)
    await createDefinition(db, { spec: ActivityDefinitionSpec.parse(spec(`seed-${String(i).padStart(4, '0')}`)) });

  const results = [
    await measure('list   raw kysely (listDefinitions, 50 rows)', iterations, () => listDefinitions(db, { limit: 50 })),
    await measure('list   API, bootstrap token', iterations, () => viaBootstrap.definitions.list.query({ limit: 50 })),
    await measure('list   API, stored token (hash lookup)', iterations, () =>
      viaStoredToken.definitions.list.query({ limit: 50 }),
    ),
    await measure('create raw kysely (zod parse + createDefinition)', iterations, (i) =>
      createDefinition(db, { spec: ActivityDefinitionSpec.parse(spec(`raw-${i < 0 ? `w${-i}` : i}`)) }),
    ),
    await measure('create API, bootstrap token (validate + CEL compile + insert)', iterations, (i) =>
      viaBootstrap.definitions.create.mutate({ spec: spec(`api-${i < 0 ? `w${-i}` : i}`) }),
    ),
  ];
  const fmt = (x: number) => x.toFixed(2).padStart(7);
  process.stdout.write(`\nAPI latency, ${iterations} sequential calls per case after ${warmup} warm-up (ms)\n`);
  process.stdout.write(`${'case'.padEnd(64)}    p50     p95    mean\n`);
  for (const r of results) process.stdout.write(`${r.name.padEnd(64)}${fmt(r.p50)} ${fmt(r.p95)} ${fmt(r.mean)}\n`);
  const [rawList, apiList, , rawCreate, apiCreate] = results;
  if (rawList && apiList && rawCreate && apiCreate) {
    process.stdout.write(
      `\nratio API/raw p50: list ${(apiList.p50 / rawList.p50).toFixed(2)}x, create ${(apiCreate.p50 / rawCreate.p50).toFixed(2)}x\n`,
    );
  }
  await api.stop();
  await db.destroy();
  return true;
});
