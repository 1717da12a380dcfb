import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { containerEnvironment, containerSpecs } from './containers.ts';
import { REPO_ROOT } from './tools.ts';

interface ComposeService {
  image: string;
  environment?: Record<string, string>;
  ports?: string[];
  command?: string[];
  depends_on?: string[] | Record<string, unknown>;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.dev.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
};

// No Docker engine runs where this project is built, so the compose file and the
// testcontainers provider are held to one spec here instead of being started.
describe('docker-compose.dev.yml', () => {
  test('has exactly the services of the container specs', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      containerSpecs()
        .map((s) => s.service)
        .sort(),
    );
  });

  test.each(containerSpecs().map((s) => [s.service, s] as const))('%s matches its spec', (name, spec) => {
    const service = compose.services[name] as ComposeService;
    expect(service.image).toBe(spec.image);
    expect(service.environment ?? {}).toEqual(spec.env);
    const ports = Object.entries(spec.ports).map(([container, host]) => `${host}:${container}`);
    expect(service.ports ?? []).toEqual(ports);
    if (spec.command) expect(service.command).toEqual(spec.command);
    const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
    expect(deps).toEqual(spec.dependsOn ?? []);
  });

  test('publishes the same host ports the embedded stack uses by default', () => {
    const hostPorts = containerSpecs().flatMap((s) => Object.values(s.ports));
    expect(hostPorts.sort()).toEqual([4222, 5432, 7233, 8222, 8233]);
  });

  test('the environment for the services uses the contract names and reaches those ports', () => {
    const env = containerEnvironment();
    expect(Object.keys(env).sort()).toEqual(['DATABASE_URL', 'NATS_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']);
    expect(new URL(env.DATABASE_URL as string).port).toBe('5432');
    expect(env.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
  });
});
