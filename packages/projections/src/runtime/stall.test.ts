import { withOverrides } from '@ghostnet/test';
import { type ConsumerMessages, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { feedWorkers } from '../testing/feedWorkers.ts';
import { createHarness, type Harness } from '../testing/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

/** Messages that never come, as from a consumer whose NATS node died without the client library noticing. */
function standingStill(real: ConsumerMessages): ConsumerMessages {
  let release: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    release = resolve;
  });
  return withOverrides(real, {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        await stopped;
        return { done: true, value: undefined };
      },
    }),
    stop: (...args: Parameters<ConsumerMessages['stop']>) => {
      release();
      return real.stop(...args);
    },
  });
}

/** A JetStream client whose first `count` consumers deliver nothing. */
function withStalledConsumers(js: JetStreamClient, count: number): JetStreamClient {
  let left = count;
  const get = async (...args: Parameters<JetStreamClient['consumers']['get']>) => {
    const consumer = await js.consumers.get(...args);
    return withOverrides(consumer, {
      consume: async (...opts: Parameters<typeof consumer.consume>) => {
        const messages = await consumer.consume(...opts);
        if (left <= 0) return messages;
        left--;
        return standingStill(messages);
      },
    });
  };
  return withOverrides(js, { consumers: withOverrides(js.consumers, { get }) });
}

describe('a consumer that stands still', () => {
  it('is opened again from the checkpoint once the stream is found ahead twice; nothing is missed', async () => {
    h = await createHarness();
    const feed = await feedWorkers(h, { seed: 5, events: 150 });
    const last = feed.published[feed.published.length - 1]!;
    const worker = feed.worker({
      js: withStalledConsumers(jetstream(h.stream.nc), 2),
      stallCheckMs: 300,
    });
    const running = worker.start();
    try {
      expect(await feed.waitForCheckpoint(last)).toBe(last);
      expect(worker.stats().stalls).toBe(2);
      // Every event once: the feed holds exactly the published sequences.
      expect(await feed.sequences()).toEqual(feed.published);
    } finally {
      await worker.stop();
      await running;
    }
  }, 60_000);
});
