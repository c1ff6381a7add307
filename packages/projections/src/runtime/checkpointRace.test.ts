import { withOverrides } from '@ghostnet/test';
import {
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
} from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { feedWorkers } from '../testing/feedWorkers.ts';
import { createHarness, type Harness } from '../testing/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

/**
 * Clients under which a worker's durable consumer gets a name of its own: two workers of one generation would
 * otherwise take the consumer from each other (each session recreates it) and never run side by side.
 */
function ownConsumer(js: JetStreamClient, jsm: JetStreamManager, suffix: string) {
  return {
    js: withOverrides(js, {
      consumers: withOverrides(js.consumers, {
        get: (stream: string, name?: string) => js.consumers.get(stream, `${name}${suffix}`),
      }),
    }),
    jsm: withOverrides(jsm, {
      consumers: withOverrides(jsm.consumers, {
        add: (stream: string, config: Partial<ConsumerConfig>) =>
          jsm.consumers.add(stream, { ...config, durable_name: `${config.durable_name}${suffix}` }),
        delete: (stream: string, name: string) => jsm.consumers.delete(stream, `${name}${suffix}`),
      }),
    }),
  };
}

describe('a checkpoint moved under a worker', () => {
  it('two workers on one generation (no lease between them) still apply every message exactly once', async () => {
    h = await createHarness();
    const feed = await feedWorkers(h, { seed: 11, events: 400 });
    // Batches of different sizes, so that each worker keeps finding the checkpoint moved by the other: the
    // one-statement advance misses and the batch goes the long way (lock, skip or rewind on a gap).
    const workers = [7, 11].map((batchSize, i) =>
      feed.worker({ batchSize, ...ownConsumer(jetstream(h!.stream.nc), feed.jsm, `-${i}`) }),
    );
    const running = workers.map((w) => w.start());
    const published = [...feed.published];
    const bothApplied = () => workers.every((w) => w.stats().appliedEvents > 0);
    try {
      // On a loaded machine one worker can be through the stream before the other has its consumer; more
      // events then reach both, until each has applied some (a worker that never applies fails the test).
      const until = Date.now() + 20_000;
      for (;;) {
        const tail = published[published.length - 1]!;
        expect(await feed.waitForCheckpoint(tail, 30_000)).toBe(tail);
        if (bothApplied() || Date.now() > until) break;
        published.push(...(await h.publish(feed.game.take(100))));
      }
    } finally {
      for (const w of workers) await w.stop();
      await Promise.all(running);
    }
    expect(workers.map((w) => w.failure)).toEqual([null, null]);
    // Both applied some of it; every message is in the feed once (its primary key would refuse a second).
    expect(bothApplied()).toBe(true);
    expect(await feed.sequences()).toEqual(published);
  }, 60_000);
});
