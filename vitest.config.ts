import { defineConfig } from 'vitest/config';
import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';

/**
 * Files that take minutes (SIGKILL loops, clusters, chaos), longest first. A clean clone (CI) has no timing
 * cache, and vitest would start by the largest files instead: a 3.5-minute file started late made the suite's
 * tail a minute and a half longer (501 s with 1,190 s of tests on 3 workers, 2-core VM, 2026-12-05).
 */
const LONGEST = [
  'apps/projector/src/projector.test.ts',
  'apps/ingester/src/crash.test.ts',
  'apps/gateway/src/failover.test.ts',
  'packages/api/src/outbox/outbox.test.ts',
  'apps/stack/src/chaos/chaos.test.ts',
  'apps/stack/src/cluster.test.ts',
  'packages/projections/src/runtime/runner.test.ts',
  'packages/api/src/rateLimit/rateLimit.test.ts',
  'apps/cli/src/cli.test.ts',
  'apps/stack/src/console.test.ts',
  'packages/ingest/src/ingester.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const i = LONGEST.findIndex((path) => file.moduleId.endsWith(`/${path}`));
      return i === -1 ? LONGEST.length : i;
    };
    // Array.prototype.sort is stable: the others keep vitest's own order (cached durations, then size).
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'infra/**/*.test.ts'],
    globalSetup: ['packages/_test/src/globalSetup.ts'],
    pool: 'forks',
    // Most tests wait on processes, anvil, NATS and Postgres rather than on CPU: run a few files at once.
    maxWorkers: 3,
    // A worker keeps its module cache from one file to the next: importing the workspace again for every file
    // cost 190 s of the suite's CPU (2-core VM: 489 s → 402 s of wall time). So no test may mock a module
    // (vi.mock); seams are options instead (e.g. the gateway's `readRange`), and spies are restored.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    sequence: { sequencer: LongestFirst },
  },
});
