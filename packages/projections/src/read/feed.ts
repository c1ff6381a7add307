import { type DatabasePool, sql } from '@ghostnet/db';
import { type FeedEvent, type FeedOptions, StreamMessage, toFeedEvents } from '@ghostnet/events';
import { z } from 'zod';
import { type AsOf, asOf, type ReadContext, readConsistent } from './context.ts';
import { clamp } from './game.ts';

export type SequencedFeedEvent = FeedEvent & { sequenceId: number };

const FeedRow = z.object({ sequence: z.number(), payload: z.unknown() });

export interface RecentFeedOptions {
  /** Stream messages to read (each may yield several feed events, e.g. one TRACED per victim). */
  limit?: number;
  /** Only messages before this sequence: paging back through history. */
  beforeSequence?: number;
  /** Only messages at or below this sequence (snapshots cut the feed at the state's sequence). */
  upToSequence?: number;
  feed?: FeedOptions;
}

export async function feedIn(
  ctx: ReadContext,
  options: RecentFeedOptions = {},
): Promise<SequencedFeedEvent[]> {
  if (!ctx.active.has('feed')) return [];
  const limit = clamp(options.limit ?? 50, 1, 1000);
  const before = Math.min(
    options.beforeSequence ?? Number.MAX_SAFE_INTEGER,
    (options.upToSequence ?? Number.MAX_SAFE_INTEGER - 1) + 1,
  );
  const rows = await ctx.tx.any(sql.type(FeedRow)`
    SELECT sequence, payload FROM ${ctx.table('feed', 'events')}
    WHERE in_feed AND sequence < ${before}
    ORDER BY sequence DESC LIMIT ${limit}`);
  return rows.flatMap((row) =>
    toFeedEvents(StreamMessage.parse(row.payload), options.feed).map((event) => ({
      ...event,
      sequenceId: row.sequence,
    })),
  );
}

/** The newest feed events, newest first, each with the stream sequence of the message it comes from. */
export async function readRecentFeed(
  pool: DatabasePool,
  options: RecentFeedOptions = {},
): Promise<AsOf & { events: SequencedFeedEvent[] }> {
  return readConsistent(pool, ['feed'], async (ctx) => ({
    events: await feedIn(ctx, options),
    ...asOf(ctx, 'feed'),
  }));
}
