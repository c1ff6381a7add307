import { sql } from '@ghostnet/db';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { feedProjection } from '../projections/index.ts';
import { DecodeCache } from '../runtime/decode.ts';
import { ensureGenerations, schemaOf } from '../runtime/generations.ts';
import { GenerationWorker, type WorkerOptions } from '../runtime/worker.ts';
import type { Harness } from './harness.ts';
import { SyntheticGame } from './synthetic.ts';

export interface FeedWorkers {
  game: SyntheticGame;
  /** Sequences of the events published before the generation was made. */
  published: number[];
  jsm: JetStreamManager;
  version: number;
  /** The generation's lease key, as the runner names it. */
  key: string;
  checkpoint(): Promise<number>;
  /** Polls the checkpoint until it reaches `sequence` or `timeoutMs` passes; the checkpoint then. */
  waitForCheckpoint(sequence: number, timeoutMs?: number): Promise<number>;
  /** The sequences in the generation's `events` table, in order (each message once if applied once). */
  sequences(): Promise<readonly number[]>;
  /** A worker of the generation alone, without a runner (no lease unless `leaseFence` is given). */
  worker(options?: Partial<WorkerOptions>): GenerationWorker;
}

/**
 * For tests of the worker alone: `events` synthetic events in the harness's stream and a `feed` generation to
 * apply them (its every message is a row keyed by sequence, so an event applied twice cannot go unseen).
 */
export async function feedWorkers(
  h: Harness,
  options: { seed: number; events: number },
): Promise<FeedWorkers> {
  const game = new SyntheticGame({
    secondsPerTx: 30,
    seed: options.seed,
    players: 20,
    capacity: 10,
    resetEvery: 1_000,
  });
  const published = await h.publish(game.take(options.events));
  const jsm = await jetstreamManager(h.stream.nc);
  const epoch = (await jsm.streams.info(h.stream.name)).created;
  const [generation] = await ensureGenerations(h.pool, feedProjection, epoch);
  const version = generation!.version;
  const checkpoint = () =>
    h.pool.oneFirst(sql.type(z.object({ s: z.number() }))`
      SELECT last_sequence AS s FROM projection_checkpoints WHERE projection = 'feed' AND version = ${version}`);
  return {
    game,
    published,
    jsm,
    version,
    key: `feed:${version}`,
    checkpoint,
    async waitForCheckpoint(sequence, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let at = await checkpoint();
      while (at < sequence && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        at = await checkpoint();
      }
      return at;
    },
    sequences: () =>
      h.pool.anyFirst(sql.type(z.object({ sequence: z.number() }))`
        SELECT sequence FROM ${sql.identifier([schemaOf('feed', version), 'events'])} ORDER BY sequence`),
    worker: (overrides = {}) =>
      new GenerationWorker(feedProjection, version, 'active', {
        pool: h.pool,
        js: jetstream(h.stream.nc),
        jsm,
        streamName: h.stream.name,
        decode: new DecodeCache(h.stream.chainId, h.stream.prefix),
        logger: h.logger,
        batchSize: 50,
        batchWaitMs: 0,
        undoWindow: 10_000,
        undoRetain: 100_000,
        leaseValid: () => true,
        ...overrides,
      }),
  };
}
