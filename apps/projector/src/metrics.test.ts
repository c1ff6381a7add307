import type { DatabasePool } from '@ghostnet/db';
import type { ProjectionRunner, RunnerStats, WorkerStats } from '@ghostnet/projections';
import { describe, expect, it } from 'vitest';
import { projectorMetrics } from './metrics.ts';

/** A worker as the runner reports it: only the fields the lag reads matter here. */
function worker(lastSequence: number, pending: number): WorkerStats {
  return {
    projection: 'game',
    version: 3,
    status: 'active',
    state: 'running',
    lastSequence,
    pending,
    batches: 1,
    appliedEvents: lastSequence,
    lastBatch: null,
    batchMs: { p50: 0, p99: 0 },
    lagMs: { p50: 0, p99: 0 },
    failure: null,
    reorgs: { undone: 0, rebuilt: 0, preloaded: 0 },
    stalls: 0,
  } as WorkerStats;
}

async function lagOf(stats: RunnerStats): Promise<string | undefined> {
  const runner = {
    stats: () => stats,
    streamLastSequence: stats.streamLastSequence,
  } as unknown as ProjectionRunner;
  const pool = { state: () => ({ acquiredConnections: 0, waitingClients: 0 }) } as unknown as DatabasePool;
  const text = await projectorMetrics(runner, pool, 10).metrics();
  return text.split('\n').find((l) => l.startsWith('ghostnet_projection_lag_messages{'));
}

describe('projector metrics', () => {
  it('the lag of a worker that stopped committing grows with the stream, not with what its last batch saw', async () => {
    // Its last batch saw nothing pending; the stream has since moved 5,000 on while it retries an error.
    expect(await lagOf({ workers: [worker(1_000, 0)], streamLastSequence: 6_000, standby: [] })).toBe(
      'ghostnet_projection_lag_messages{projection="game",version="3",app="projector"} 5000',
    );
    // A batch's own view is used when it is the newer one (the bookkeeping round reads the stream less often).
    expect(await lagOf({ workers: [worker(1_000, 7_000)], streamLastSequence: 6_000, standby: [] })).toBe(
      'ghostnet_projection_lag_messages{projection="game",version="3",app="projector"} 7000',
    );
  });
});
