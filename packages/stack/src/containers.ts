/**
 * The container flavour of the local stack, for people with a Docker engine. The same three
 * servers as the embedded default, on the same ports and with the same environment names;
 * `docker-compose.dev.yml` and the testcontainers provider are both derived from these specs
 * (a unit test holds them together).
 */
export interface ContainerSpec {
  readonly service: 'postgresql' | 'temporal' | 'temporal-ui' | 'nats';
  readonly image: string;
  /** Container port → default host port. */
  readonly ports: Readonly<Record<number, number>>;
  readonly env: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly dependsOn?: readonly ContainerSpec['service'][];
}

export const CONTAINER_IMAGES = {
  postgresql: 'postgres:18',
  temporal: 'temporalio/auto-setup:1.29.1',
  temporalUi: 'temporalio/ui:2.44.0',
  nats: 'nats:2.12-alpine',
} as const;

export const DEV_DATABASE = { user: 'postgres', password: 'postgres', database: 'activity_core' } as const;

export function containerSpecs(): readonly ContainerSpec[] {
  return [
    {
      service: 'postgresql',
      image: CONTAINER_IMAGES.postgresql,
      ports: { 5432: 5432 },
      env: {
        POSTGRES_USER: DEV_DATABASE.user,
        POSTGRES_PASSWORD: DEV_DATABASE.password,
        POSTGRES_DB: DEV_DATABASE.database,
      },
    },
    {
      service: 'temporal',
      image: CONTAINER_IMAGES.temporal,
      ports: { 7233: 7233 },
      env: {
        DB: 'postgres12',
        DB_PORT: '5432',
        POSTGRES_USER: DEV_DATABASE.user,
        POSTGRES_PWD: DEV_DATABASE.password,
        POSTGRES_SEEDS: 'postgresql',
      },
      dependsOn: ['postgresql'],
    },
    {
      service: 'temporal-ui',
      image: CONTAINER_IMAGES.temporalUi,
      ports: { 8080: 8233 },
      env: { TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_CORS_ORIGINS: 'http://localhost:3000' },
      dependsOn: ['temporal'],
    },
    {
      service: 'nats',
      image: CONTAINER_IMAGES.nats,
      ports: { 4222: 4222, 8222: 8222 },
      env: {},
      command: ['-js', '-sd', '/data', '-m', '8222'],
    },
  ];
}

/** The environment the services need to reach the container stack from the host. */
export function containerEnvironment(host = '127.0.0.1'): Readonly<Record<string, string>> {
  return {
    DATABASE_URL: `postgres://${DEV_DATABASE.user}:${DEV_DATABASE.password}@${host}:5432/${DEV_DATABASE.database}`,
    NATS_URL: `nats://${host}:4222`,
    TEMPORAL_ADDRESS: `${host}:7233`,
    TEMPORAL_NAMESPACE: 'default',
  };
}
