import { sql } from '@ghostnet/db';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { feedWorkers } from '../testing/feedWorkers.ts';
import { createHarness, type Harness } from '../testing/harness.ts';
import { LEASE_CLASS } from './lease.ts';

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
    const feed = await feedWorkers(h, { seed: 3, events: 200 });
    const { key } = feed;
    const worker = (pid: number, onLost: () => void) =>
      feed.worker({ leaseFence: { pid, key }, onLeaseLost: onLost });

    // A session that never held the lock (the lease was taken over while this process could not tell).
    const stranger = await session(h.db.url);
    let lost = false;
    await worker(stranger.pid, () => {
      lost = true;
    }).start();
    expect(lost).toBe(true);
    expect(await feed.checkpoint()).toBe(0);

    // The holder applies; once its session lets the lock go, its next batch applies nothing.
    const holder = await session(h.db.url, key);
    let holderLost = false;
    const applying = worker(holder.pid, () => {
      holderLost = true;
    });
    const done = applying.start();
    const last = feed.published[feed.published.length - 1]!;
    expect(await feed.waitForCheckpoint(last, 10_000)).toBe(last);
    await holder.client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [LEASE_CLASS, key]);
    await h.publish(feed.game.take(50));
    await done;
    expect(holderLost).toBe(true);
    expect(await feed.checkpoint()).toBe(last);
  });

  it("a worker without the lease does not empty the generation when the stream's creation time looks changed", async () => {
    h = await createHarness();
    const feed = await feedWorkers(h, { seed: 5, events: 100 });
    const last = feed.published[feed.published.length - 1]!;
    const holder = await session(h.db.url, feed.key);
    const applying = feed.worker({ leaseFence: { pid: holder.pid, key: feed.key } });
    const done = applying.start();
    expect(await feed.waitForCheckpoint(last, 10_000)).toBe(last);
    await applying.stop();
    await done;
    // What a recreated stream looks like to a session start: another creation time, and no message id to
    // tell an alias from a new stream (as after a reorg's rewind). The holder would rebuild; a stranger must not.
    await h.pool.query(sql.unsafe`
      UPDATE projection_checkpoints SET stream_epoch = '2000-01-01T00:00:00Z', last_message_id = NULL
      WHERE projection = 'feed' AND version = ${feed.version}`);
    const stranger = await session(h.db.url);
    let lost = false;
    await feed
      .worker({
        leaseFence: { pid: stranger.pid, key: feed.key },
        onLeaseLost: () => {
          lost = true;
        },
      })
      .start();
    expect(lost).toBe(true);
    expect(await feed.checkpoint()).toBe(last);
    expect(await feed.sequences()).toHaveLength(feed.published.length);
  });
});
