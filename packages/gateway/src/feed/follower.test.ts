import { createLogger } from '@ghostnet/logger';
import { createTestStream, withOverrides } from '@ghostnet/test';
import type { JetStreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { appendMany, mixedMessage } from '../test/envelopes.ts';
import { StreamFollower } from './follower.ts';

/** The stream manager, except that stream info reports `created` as `reported()` says when it says one. */
function reportingCreated(jsm: JetStreamManager, reported: () => string | null): JetStreamManager {
  const streams = withOverrides(jsm.streams, {
    info: async (...args: Parameters<JetStreamManager['streams']['info']>) => {
      const info = await jsm.streams.info(...args);
      const created = reported();
      return created === null ? info : { ...info, created };
    },
  });
  return withOverrides(jsm, { streams });
}

describe('the stream follower', () => {
  it('takes a changed creation time for the same stream when the stream still holds its head message: no reset', async () => {
    const stream = await createTestStream();
    let reported: string | null = null;
    const resets: string[] = [];
    const follower = new StreamFollower({
      js: stream.js,
      jsm: reportingCreated(stream.jsm, () => reported),
      streamName: stream.name,
      subjectRoot: stream.subjects.root,
      windowSize: 100,
      epochCheckMs: 60_000,
      logger: createLogger({ name: 'follower', level: 'silent' }),
      onMessage: () => {},
      onReset: (epoch) => resets.push(epoch),
    });
    try {
      const first = await appendMany(stream.js, stream.subjects, 20, (i) => mixedMessage(stream.chainId, i));
      await follower.start();
      expect(await follower.waitForHead(first, 10_000)).toBe(true);
      expect(follower.epoch).toBe(stream.epoch);

      // NATS now reports another creation time (replicas that disagree on it); the messages are the same.
      reported = '2000-01-01T00:00:00.000000000Z';
      await follower.checkEpoch();
      expect(resets).toEqual([]);
      expect(follower.epoch).toBe(reported);
      // Cursors and snapshots (the projector keeps the epoch it started with) of either name are this stream's.
      expect(follower.isCurrentEpoch(stream.epoch)).toBe(true);
      expect(follower.isCurrentEpoch(reported)).toBe(true);
      expect(follower.isCurrentEpoch('2001-01-01T00:00:00.000000000Z')).toBe(false);
      expect(follower.window.covers(first - 20)).toBe(true);
      const more = await appendMany(stream.js, stream.subjects, 5, (i) =>
        mixedMessage(stream.chainId, 100 + i),
      );
      expect(await follower.waitForHead(more, 10_000)).toBe(true);

      // A stream recreated under it (another message at its head): one reset, as before, however many checks
      // overlap (the consumer's own notice starts one too).
      const info = await stream.jsm.streams.info(stream.name);
      await stream.jsm.streams.delete(stream.name);
      const recreated = await stream.jsm.streams.add(info.config);
      reported = null;
      await appendMany(stream.js, stream.subjects, 3, (i) => mixedMessage(stream.chainId, 200 + i));
      await Promise.all([follower.checkEpoch(), follower.checkEpoch()]);
      expect(resets).toEqual([recreated.created]);
      await follower.checkEpoch();
      expect(resets).toEqual([recreated.created]);
      // The old incarnation's names are void.
      expect(follower.isCurrentEpoch(recreated.created)).toBe(true);
      expect(follower.isCurrentEpoch(stream.epoch)).toBe(false);
      expect(follower.isCurrentEpoch('2000-01-01T00:00:00.000000000Z')).toBe(false);
    } finally {
      await follower.stop();
      await stream.destroy();
    }
  }, 60_000);
});
