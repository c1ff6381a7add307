import type { DatabasePool } from '@ghostnet/db';
import type { Logger } from '@ghostnet/logger';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DecodeCache } from './decode.ts';
import { consumerName, dropRetired, ensureGenerations } from './generations.ts';
import { LeaseManager } from './lease.ts';
import { PoisonMessageError, type Projection } from './types.ts';
import { type BatchInfo, GenerationWorker, type WorkerStats } from './worker.ts';

/**
 * Options for the pool a runner is given. Its transactions set only transaction-local state (set_config(...,
 * true)): slonik's DISCARD ALL after each one would be a seventh round trip per batch, and it would drop the
 * plans Postgres caches for the undo triggers and the projections' functions.
 */
export const RUNNER_POOL_OPTIONS = { resetSessionOnRelease: false, prepareStatements: true } as const;

export interface RunnerOptions {
  pool: DatabasePool;
  /** For the lease connection (a plain session of its own, not from the pool). */
  databaseUrl: string;
  nc: NatsConnection;
  streamName: string;
  chainId: number;
  subjectPrefix: string;
  projections: Projection[];
  logger: Logger;
  /** Messages per transaction (default 1000). */
  batchSize?: number;
  /** After the first message of a batch, how long to wait for more (default 0: take what is there). */
  batchWaitMs?: number;
  /** How often leases, generations and the lease session are checked (default 1000 ms). */
  pollMs?: number;
  /** Capture undo data for batches delivered with fewer than this many messages after them (default 10 000). */
  undoWindow?: number;
  /** Keep undo data for this many sequences below the checkpoint (default 100 000). */
  undoRetain?: number;
  /** Pass over the orphans of reorg notices ahead of a generation's checkpoint (default true; see the worker). */
  preloadReorgNotices?: boolean;
  /** A consumer that delivers nothing this long is checked against the stream (default 5 s; see the worker). */
  stallCheckMs?: number;
  /** Retired generations are dropped this long after the switch (default 60 s). */
  retiredGraceMs?: number;
  onBatch?: (info: BatchInfo) => void;
}

export interface RunnerStats {
  /** Generations this process applies now (holds the lease of), plus those that stopped on a poison message. */
  workers: WorkerStats[];
  /** The stream's last sequence as of the last bookkeeping round (every pollMs); 0 before the first. */
  streamLastSequence: number;
  /** Generations another process holds (this one is standby for them). */
  standby: string[];
}

/**
 * Runs every projection: one worker per generation this process holds the lease of, each with its own durable
 * consumer, checkpoint and transactions. A standby process runs the same loop and takes a lease over within
 * `pollMs` of its holder's death. Projections can be added while running.
 */
export class ProjectionRunner {
  readonly #projections = new Map<string, Projection>();
  readonly #workers = new Map<string, GenerationWorker>();
  readonly #failed = new Map<string, GenerationWorker>();
  readonly #standby = new Set<string>();
  readonly #lease: LeaseManager;
  readonly #decode: DecodeCache;
  #jsm: JetStreamManager | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopping = false;
  #lastDrop = 0;
  #streamLast = 0;
  readonly #log: Logger;

  constructor(readonly options: RunnerOptions) {
    for (const p of options.projections) this.#projections.set(p.name, p);
    this.#log = options.logger;
    this.#lease = new LeaseManager(options.databaseUrl, options.logger);
    this.#decode = new DecodeCache(options.chainId, options.subjectPrefix);
  }

  async start(): Promise<void> {
    this.#jsm = await jetstreamManager(this.options.nc);
    await this.tick();
    this.#schedule();
  }

  /** Adds a projection while the others run: it starts at sequence 1 and catches up on its own consumer. */
  async add(projection: Projection): Promise<void> {
    this.#projections.set(projection.name, projection);
    await this.tick();
  }

  #schedule(): void {
    if (this.#stopping) return;
    this.#timer = setTimeout(() => {
      void this.tick().finally(() => this.#schedule());
    }, this.options.pollMs ?? 1_000);
  }

  /** One round of lease and generation bookkeeping (also runs on its own every pollMs). */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick()
      .catch((error) => this.#log.warn({ err: error }, 'projector bookkeeping failed; retrying'))
      .finally(() => {
        this.#ticking = null;
      });
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    if (this.#stopping || !this.#jsm) return;
    const jsm = this.#jsm;
    if (!(await this.#lease.ping())) await this.#stopAll();
    for (const [key, worker] of this.#workers) {
      if (worker.finished) {
        this.#workers.delete(key);
        if (worker.state === 'failed') this.#failed.set(key, worker);
        await this.#lease.release(key);
      }
    }
    const info = await jsm.streams.info(this.options.streamName);
    const epoch = info.created;
    this.#streamLast = info.state.last_seq;
    const wanted = new Set<string>();
    const present = new Set<string>();
    for (const projection of this.#projections.values()) {
      const generations = await ensureGenerations(this.options.pool, projection, epoch);
      for (const g of generations) {
        const key = `${g.projection}:${g.version}`;
        if (g.status !== 'retired') present.add(key);
        if (g.status === 'retired' || g.codeVersion !== projection.codeVersion || g.failedSequence !== null)
          continue;
        wanted.add(key);
        this.#failed.delete(key);
        if (this.#workers.has(key) || this.#stopping) continue;
        if (!(await this.#lease.tryAcquire(key))) {
          this.#standby.add(key);
          continue;
        }
        this.#standby.delete(key);
        this.#startWorker(projection, g.version, g.status === 'building' ? 'building' : 'active', key);
      }
    }
    for (const [key, worker] of this.#workers) {
      if (!wanted.has(key)) {
        this.#workers.delete(key);
        await worker.stop();
        // Not wanted because it just failed (recorded in Postgres): still reported by stats().
        if (worker.state === 'failed') this.#failed.set(key, worker);
        await this.#lease.release(key);
      }
    }
    for (const key of this.#standby)
      if (!wanted.has(key) || this.#workers.has(key)) this.#standby.delete(key);
    // A failed generation since retired (rebuilt by fixed code) or dropped is no failure any more: its
    // ghostnet_projection_failed would otherwise stay at 1 until the process restarts.
    for (const key of this.#failed.keys()) if (!present.has(key)) this.#failed.delete(key);
    if (Date.now() - this.#lastDrop > 10_000) {
      this.#lastDrop = Date.now();
      const dropped = await dropRetired(this.options.pool, this.options.retiredGraceMs ?? 60_000);
      for (const g of dropped) {
        await jsm.consumers
          .delete(this.options.streamName, consumerName(g.projection, g.version))
          .catch(() => {});
        this.#log.info({ projection: g.projection, version: g.version }, 'retired generation dropped');
      }
    }
  }

  #startWorker(projection: Projection, version: number, status: 'active' | 'building', key: string): void {
    const sessionEpoch = this.#lease.sessionEpoch;
    const worker = new GenerationWorker(projection, version, status, {
      pool: this.options.pool,
      js: jetstream(this.options.nc),
      jsm: this.#jsm!,
      streamName: this.options.streamName,
      decode: this.#decode,
      logger: this.#log,
      batchSize: this.options.batchSize ?? 1_000,
      batchWaitMs: this.options.batchWaitMs ?? 0,
      undoWindow: this.options.undoWindow ?? 10_000,
      undoRetain: this.options.undoRetain ?? 100_000,
      preloadReorgNotices: this.options.preloadReorgNotices ?? true,
      stallCheckMs: this.options.stallCheckMs,
      leaseValid: () =>
        !this.#stopping && this.#lease.holds(key) && this.#lease.sessionEpoch === sessionEpoch,
      leaseFence: { pid: this.#lease.sessionPid!, key },
      onLeaseLost: () => {
        if (this.#workers.get(key) === worker) this.#workers.delete(key);
        this.#lease.abandon(`lease of ${key} found lost by a batch`);
      },
      onBatch: this.options.onBatch,
    });
    this.#workers.set(key, worker);
    this.#log.info({ projection: projection.name, version, status }, 'lease acquired; applying');
    void worker.start().then(() => {
      if (worker.state === 'failed' && !this.#stopping) void this.tick();
    });
  }

  async #stopAll(): Promise<void> {
    const workers = [...this.#workers.entries()];
    this.#workers.clear();
    await Promise.all(workers.map(([, w]) => w.stop()));
    for (const [key] of workers) await this.#lease.release(key);
  }

  /** Graceful stop: each worker finishes its batch (commit, ack), then the leases are released. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#ticking;
    await this.#stopAll();
    await this.#lease.close();
  }

  /** The stream's last sequence as of the last bookkeeping round (also in stats(), without the rest). */
  get streamLastSequence(): number {
    return this.#streamLast;
  }

  stats(): RunnerStats {
    return {
      workers: [...this.#workers.values(), ...this.#failed.values()].map((w) => w.stats()),
      streamLastSequence: this.#streamLast,
      standby: [...this.#standby],
    };
  }

  /**
   * Resolves when every wanted generation run here has applied `sequence` (tests, benchmarks). A generation
   * stopped on a poison message before it is a PoisonMessageError, not a silent pass, unless `ignoreFailed`
   * (a test showing that the others go on).
   */
  async waitFor(
    sequence: number,
    timeoutMs = 30_000,
    options: { ignoreFailed?: boolean } = {},
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!options.ignoreFailed) {
        for (const w of this.#failed.values()) {
          const failure = w.failure;
          if (failure && failure.sequence <= sequence) {
            throw new PoisonMessageError(w.projection.name, w.version, failure.sequence, failure.reason);
          }
        }
      }
      const workers = [...this.#workers.values()];
      if (workers.length > 0 && workers.every((w) => w.checkpoint >= sequence)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `projections did not reach ${sequence}: ${workers.map((w) => `${w.key}@${w.checkpoint}`).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export function createProjectionRunner(options: RunnerOptions): ProjectionRunner {
  return new ProjectionRunner(options);
}
