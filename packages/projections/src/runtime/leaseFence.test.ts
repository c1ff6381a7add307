import { sql } from '@ghostnet/db';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { feedProjection } from '../projections/index.ts';
import { createHarness, type Harness } from '../testing/harness.ts';
import { SyntheticGame } from '../testing/synthetic.ts';
import { DecodeCache } from './decode.ts';
import { ensureGenerations } from './generations.ts';
import { LEASE_CLASS } from './lease.ts';
import { GenerationWorker } from './worker.ts';

let h: Harness | undefined;
const clients: pg.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end().catch(() => {});
  await h?.cleanup();
  h = undefined;
});

/** A session of its own that holds (or not) the generation's lease lock, as the runner's lease session would. */
async function session(url: string, key?: string): Promise<{ pid: number; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  if (key) await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [LEASE_CLASS, key]);
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { pid: rows[0]!.pid, client };
}

describe('lease fence', () => {
  it('a worker whose lease session no longer holds the lock applies nothing more, and says so', async () => {
    h = await createHarness();
    const game = new SyntheticGame({
      secondsPerTx: 30,
      seed: 3,
      players: 20,
      capacity: 10,
      resetEvery: 1_000,
    });
    const first = await h.publish(game.take(200));
    const jsm = await jetstreamManager(h.stream.nc);
    const epoch = (await jsm.streams.info(h.stream.name)).created;
    const [generation] = await ensureGenerations(h.pool, feedProjection, epoch);
    const key = `feed:${generation!.version}`;
    const checkpoint = async () =>
      h!.pool.oneFirst(sql.type(z.object({ s: z.number() }))`
        SELECT last_sequence AS s FROM projection_checkpoints WHERE projection = 'feed'`);

    const worker = (pid: number, onLost: () => void) =>
      new GenerationWorker(feedProjection, generation!.version, 'active', {
        pool: h!.pool,
        js: jetstream(h!.stream.nc),
        jsm,
        streamName: h!.stream.name,
        decode: new DecodeCache(h!.stream.chainId, h!.stream.prefix),
        logger: h!.logger,
        batchSize: 50,
        batchWaitMs: 0,
        undoWindow: 10_000,
        undoRetain: 100_000,
        leaseValid: () => true,
        leaseFence: { pid, key },
        onLeaseLost: onLost,
      });

    // A session that never held the lock (the lease was taken over while this process could not tell).
    const stranger = await session(h.db.url);
    let lost = false;
    await worker(stranger.pid, () => {
      lost = true;
    }).start();
    expect(lost).toBe(true);
    expect(await checkpoint()).toBe(0);

    // The holder applies; once its session lets the lock go, its next batch applies nothing.
    const holder = await session(h.db.url, key);
    let holderLost = false;
    const applying = worker(holder.pid, () => {
      holderLost = true;
    });
    const done = applying.start();
    const last = first[first.length - 1]!;
    for (let i = 0; i < 200 && (await checkpoint()) < last; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await checkpoint()).toBe(last);
    await holder.client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [LEASE_CLASS, key]);
    await h.publish(game.take(50));
    await done;
    expect(holderLost).toBe(true);
    expect(await checkpoint()).toBe(last);
  });
});
