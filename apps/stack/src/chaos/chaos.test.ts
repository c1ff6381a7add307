import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos.ts';
import { formatReport } from './report.ts';

describe('npm run chaos (short)', () => {
  it('kills and restarts components under simulator load; stream = chain, tables = replay, clients exactly once', async () => {
    // Seed ci-2 kills the ingester, a gateway and PostgreSQL first (a seeded shuffle bag).
    const report = await runChaos({ chaosMs: 30_000, seed: 'ci-2', clients: 6, eventsPerSecond: 20 });
    console.log(formatReport(report));
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.kills.length).toBeGreaterThanOrEqual(2);
    expect(report.kills.every((k) => k.recoveryMs !== null)).toBe(true);
    expect(report.stream.vsChain?.expected).toBeGreaterThan(200);
    expect(report.tables?.equal).toBe(true);
    expect(report.tables?.rows).toBeGreaterThan(0);
    expect(report.clientCheck?.delivered).toBeGreaterThan(6 * 100);
  }, 170_000);
});
