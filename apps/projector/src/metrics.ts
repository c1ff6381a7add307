import type { DatabasePool } from '@ghostnet/db';
import { Counter, createRegistry, Gauge, type Registry, trackDbPool } from '@ghostnet/metrics';
import type { ProjectionRunner, SurvivorsPublisher } from '@ghostnet/projections';

/** Per-projection position, lag and batch timings, read from the runner at scrape time. */
export function projectorMetrics(
  runner: ProjectionRunner,
  pool: DatabasePool,
  poolSize: number,
  survivors: SurvivorsPublisher | null = null,
): Registry {
  const registry = createRegistry('projector');
  const labelNames = ['projection', 'version'] as const;
  const workers = () => runner.stats().workers;
  const perWorker = (name: string, help: string, read: (w: ReturnType<typeof workers>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const w of workers())
          this.set({ projection: w.projection, version: String(w.version) }, read(w));
      },
    });
  perWorker(
    'ghostnet_projection_last_sequence',
    'Last stream sequence the projection committed',
    (w) => w.lastSequence,
  );
  // A worker's own `pending` is what its last batch saw: a worker retrying an error for good keeps it (often
  // 0) while the stream moves on. The stream's last sequence (read every bookkeeping round) keeps the lag true.
  perWorker('ghostnet_projection_lag_messages', 'Stream messages after the projection checkpoint', (w) =>
    Math.max(w.pending, runner.streamLastSequence - w.lastSequence),
  );
  perWorker(
    'ghostnet_projection_batch_p99_seconds',
    'p99 of batch transaction time',
    (w) => w.batchMs.p99 / 1000,
  );
  perWorker('ghostnet_projection_lag_p99_seconds', 'p99 of appended → committed', (w) => w.lagMs.p99 / 1000);
  perWorker('ghostnet_projection_failed', '1 when the projection stopped on a poison message', (w) =>
    w.failure ? 1 : 0,
  );
  perWorker(
    'ghostnet_projection_consumer_stalls',
    "Times the projection's consumer stood still behind the stream and was opened again (since it started)",
    (w) => w.stalls,
  );
  new Gauge({
    name: 'ghostnet_projection_standby',
    help: 'Projection generations another projector holds (this one is standby)',
    registers: [registry],
    collect() {
      this.set(runner.stats().standby.length);
    },
  });
  const applied = new Map<string, number>();
  new Counter({
    name: 'ghostnet_projection_events_applied_total',
    help: 'Stream messages applied',
    labelNames,
    registers: [registry],
    collect() {
      for (const w of workers()) {
        const key = `${w.projection}@${w.version}`;
        const delta = w.appliedEvents - (applied.get(key) ?? 0);
        if (delta > 0) this.inc({ projection: w.projection, version: String(w.version) }, delta);
        applied.set(key, Math.max(w.appliedEvents, applied.get(key) ?? 0));
      }
    },
  });
  if (survivors) {
    new Gauge({
      name: 'ghostnet_survivors_cursor',
      help: 'Source sequence of the last ScanSurvivors published (the finalized scan it names)',
      registers: [registry],
      collect() {
        this.set(survivors.stats().cursor);
      },
    });
    new Gauge({
      name: 'ghostnet_survivors_active',
      help: '1 when this replica holds the survivors lease and publishes',
      registers: [registry],
      collect() {
        this.set(survivors.stats().active ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ghostnet_survivors_failing',
      help: '1 while publish passes fail (the error is logged once)',
      registers: [registry],
      collect() {
        this.set(survivors.stats().lastError ? 1 : 0);
      },
    });
  }
  trackDbPool(registry, () => pool.state(), poolSize);
  return registry;
}
