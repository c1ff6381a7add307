import type { Snapshot } from '@ghostnet/client/protocol';
import type { DatabasePool } from '@ghostnet/db';
import type { FeedOptions } from '@ghostnet/events';
import {
  asOf,
  readConsistent,
  readLevelStats,
  readNetworkState,
  readPosition,
  readSnapshot,
} from '@ghostnet/projections';
import type { SnapshotSource } from './source.ts';

// The projector's commit notices, which the gateway app wires to Gateway.checkpointAdvanced.
export { listenForCheckpoints } from '@ghostnet/projections';

export interface ProjectionSnapshotsOptions {
  /** Stream messages whose feed events a FULL_SYNC carries (default 50). */
  feedLimit?: number;
  feed?: FeedOptions;
}

/** Thrown while the projector has not started (no checkpoint, no epoch): the gateway answers TRY_AGAIN_LATER. */
export class SnapshotNotReadyError extends Error {
  override name = 'SnapshotNotReadyError';
}

/** The real snapshot source: the projector's read models (`game` for state and positions, `feed` for the feed). */
export function projectionSnapshots(
  pool: DatabasePool,
  options: ProjectionSnapshotsOptions = {},
): SnapshotSource {
  return {
    positionsProjection: 'game',
    async readSnapshot({ address }): Promise<Snapshot> {
      const read = await readSnapshot(pool, {
        ...(address ? { address } : {}),
        feedLimit: options.feedLimit ?? 50,
        feed: options.feed,
      });
      if (read.epoch === null) throw new SnapshotNotReadyError('the projector has not applied anything yet');
      return {
        sequence: read.sequence,
        epoch: read.epoch,
        networkState: read.networkState,
        levels: read.levels,
        position: read.position,
        // The read API gives newest first with the sequence merged in; the protocol sends oldest first.
        recentFeed: read.recentFeed
          .map(({ sequenceId, sourceSequenceId, ...event }) => ({
            sequenceId,
            event: event as Snapshot['recentFeed'][number]['event'],
            ...(sourceSequenceId === undefined ? {} : { sourceSequenceId }),
          }))
          .reverse(),
      };
    },
    async readPosition(address) {
      const read = await readPosition(pool, address);
      return { position: read.position, sequence: read.asOfSequenceId, epoch: read.epoch ?? '' };
    },
    async positionsCheckpoint() {
      const read = await readConsistent(pool, ['game'], async (ctx) => asOf(ctx, 'game'));
      return { sequence: read.asOfSequenceId, epoch: read.epoch ?? '' };
    },
    async readDeadlines() {
      const [levels, network] = await Promise.all([readLevelStats(pool), readNetworkState(pool)]);
      return {
        scans: levels.levels.map((l) => ({ level: l.level, at: l.nextScanTimestamp })),
        systemReset: network.networkState?.systemResetTimestamp ?? null,
        // Two snapshots: the older one is what both surely reflect.
        sequence: Math.min(levels.asOfSequenceId, network.asOfSequenceId),
      };
    },
  };
}
