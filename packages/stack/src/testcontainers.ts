import { CONTAINER_IMAGES, DEV_DATABASE } from './containers.ts';
import { StackError } from './errors.ts';
import type { StackInfo } from './stack.ts';

/**
 * The same stack as `startStack`, in Docker containers via testcontainers (selected with
 * `AC_STACK_PROVIDER=testcontainers`). Needs a Docker engine; `testcontainers` is loaded
 * only when this provider is chosen.
 *
 * Not run on the machines this project is developed on (they have no Docker engine); the
 * container specs it uses are unit-tested against docker-compose.dev.yml.
 */
export async function startContainerStack(): Promise<StackInfo & { stop(): Promise<void> }> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
  } catch (cause) {
    throw new StackError(
      'binary_missing',
      'AC_STACK_PROVIDER=testcontainers needs the `testcontainers` package and a Docker engine',
      { cause },
    );
  }
  const network = await new tc.Network().start();
  const postgres = await new tc.GenericContainer(CONTAINER_IMAGES.postgresql)
    .withNetwork(network)
    .withNetworkAliases('postgresql')
    .withEnvironment({
      POSTGRES_USER: DEV_DATABASE.user,
      POSTGRES_PASSWORD: DEV_DATABASE.password,
      POSTGRES_DB: DEV_DATABASE.database,
    })
    .withExposedPorts(5432)
    .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const temporal = await new tc.GenericContainer(CONTAINER_IMAGES.temporal)
    .withNetwork(network)
    .withNetworkAliases('temporal')
    .withEnvironment({
      DB: 'postgres12',
      DB_PORT: '5432',
      POSTGRES_USER: DEV_DATABASE.user,
      POSTGRES_PWD: DEV_DATABASE.password,
      POSTGRES_SEEDS: 'postgresql',
    })
    .withExposedPorts(7233)
    .withWaitStrategy(tc.Wait.forListeningPorts())
    .withStartupTimeout(180_000)
    .start();
  const nats = await new tc.GenericContainer(CONTAINER_IMAGES.nats)
    .withNetwork(network)
    .withCommand(['-js', '-sd', '/data', '-m', '8222'])
    .withExposedPorts(4222, 8222)
    .withWaitStrategy(tc.Wait.forHttp('/healthz', 8222))
    .start();
  const host = postgres.getHost();
  const pgUrl = (db: string): string =>
    `postgres://${DEV_DATABASE.user}:${DEV_DATABASE.password}@${host}:${postgres.getMappedPort(5432)}/${db}`;
  return {
    databaseUrl: pgUrl(DEV_DATABASE.database),
    adminDatabaseUrl: pgUrl('postgres'),
    natsUrl: `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`,
    natsMonitorUrl: `http://${nats.getHost()}:${nats.getMappedPort(8222)}`,
    temporalAddress: `${temporal.getHost()}:${temporal.getMappedPort(7233)}`,
    temporalNamespace: 'default',
    temporalUiUrl: undefined,
    logs: {},
    stop: async () => {
      await Promise.all([nats.stop(), temporal.stop()]);
      await postgres.stop();
      await network.stop();
    },
  };
}
