import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code, and integration suites in test/ that run
// against one real stack (Temporal dev server, nats-server, PostgreSQL) started once by the
// global setup. `forks` because Temporal's native core bridge misbehaves under worker threads.
export default defineConfig({
  test: {
    pool: 'forks',
    allowOnly: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts'],
          // Unit tests wait on nothing; the timeout only catches a hang. Vitest's 5 s default
          // failed a CPU-bound property test (120 schedule previews), which took 11 s and
          // 30 s in two fresh-clone runs on a machine shared by several suites.
          testTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          setupFiles: ['test/support/quiet-temporal.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
