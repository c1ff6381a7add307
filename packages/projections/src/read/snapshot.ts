import type { DatabasePool } from '@ghostnet/db';
import {
  Address,
  type FeedOptions,
  type LevelStats,
  type NetworkState,
  type Position,
} from '@ghostnet/events';
import { readConsistent } from './context.ts';
import { feedIn, type SequencedFeedEvent } from './feed.ts';
import { levelsIn, type NetworkStateOptions, networkStateIn, positionIn } from './game.ts';

export interface Snapshot {
  /** The stream sequence every part of the snapshot reflects; live events after it follow with no gap. */
  sequence: number;
  epoch: string | null;
  networkState: NetworkState | null;
  levels: LevelStats[];
  position: Position | null;
  /** Newest first, all at or below `sequence`. */
  recentFeed: SequencedFeedEvent[];
}

export interface SnapshotOptions extends NetworkStateOptions {
  address?: string;
  feedLimit?: number;
  feed?: FeedOptions;
  /** How long to wait for the feed projection to reach the game projection's sequence. */
  alignTimeoutMs?: number;
}

/**
 * The gateway's FULL_SYNC. State comes from the `game` projection and the feed from `feed`, each with its own
 * checkpoint: the snapshot is taken when feed ≥ game (it normally is within a batch) and the feed is cut at the
 * game's sequence, so everything reflects exactly `sequence`. If the feed stays behind past `alignTimeoutMs`,
 * `sequence` is the feed's (the lower) one: events between the two are then re-sent live, and state messages
 * are idempotent.
 */
export async function readSnapshot(pool: DatabasePool, options: SnapshotOptions = {}): Promise<Snapshot> {
  const address = options.address === undefined ? undefined : Address.parse(options.address.toLowerCase());
  const deadline = Date.now() + (options.alignTimeoutMs ?? 500);
  for (;;) {
    const snapshot = await readConsistent(pool, ['game', 'feed'], async (ctx) => {
      const game = ctx.active.get('game');
      const feed = ctx.active.get('feed');
      const gameSeq = game?.sequence ?? 0;
      const feedSeq = feed?.sequence ?? 0;
      if (feedSeq < gameSeq && Date.now() < deadline) return null;
      const sequence = Math.min(gameSeq, feedSeq);
      return {
        sequence,
        epoch: game?.epoch ?? feed?.epoch ?? null,
        networkState: await networkStateIn(ctx, options),
        levels: await levelsIn(ctx),
        position: address ? await positionIn(ctx, address) : null,
        recentFeed: (
          await feedIn(ctx, {
            limit: options.feedLimit ?? 50,
            upToSequence: sequence,
            feed: options.feed,
          })
        ).events,
      };
    });
    if (snapshot) return snapshot;
    await new Promise((r) => setTimeout(r, 20));
  }
}
