import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'infra/**/*.test.ts'],
    globalSetup: ['packages/_test/src/globalSetup.ts'],
    pool: 'forks',
    // Most tests wait on processes, anvil, NATS and Postgres rather than on CPU: run a few files at once.
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
