import { type DatabasePool, sql } from '@ghostnet/db';
import { type FeedEvent, type FeedOptions, feedSource, StreamMessage, toFeedEvents } from '@ghostnet/events';
import { z } from 'zod';
import { type AsOf, asOf, type ReadContext, readConsistent } from './context.ts';
import { clamp } from './game.ts';

/** `sourceSequenceId`: for a derived event (SURVIVED), the sequence of the message it comes from. */
export type SequencedFeedEvent = FeedEvent & { sequenceId: number; sourceSequenceId?: number };

const FeedRow = z.object({ sequence: z.number(), payload: z.unknown() });

export interface RecentFeedOptions {
  /** Stream messages to read (each may yield several feed events, e.g. one TRACED per victim). */
  limit?: number;
  /** Only messages before this sequence: paging back through history. */
  beforeSequence?: number;
  /** Only messages at or below this sequence (snapshots cut the feed at the state's sequence). */
  upToSequence?: number;
  /**
   * At most this many events (default 500): whole messages, newest first, and the newest message alone cut to
   * this many when it is larger (a scan's survivors are one message with an event per survivor, up to 5,000).
   */
  maxEvents?: number;
  feed?: FeedOptions;
}

export interface FeedPage {
  events: SequencedFeedEvent[];
  /**
   * The newest message had more events than a page holds: only its first `shown` of `total` are in `events`
   * (a scan's survivors). Null when every message of the page is whole.
   */
  cut: { sequenceId: number; shown: number; total: number } | null;
}

export async function feedIn(ctx: ReadContext, options: RecentFeedOptions = {}): Promise<FeedPage> {
  const feed = ctx.active.get('feed');
  if (!feed) return { events: [], cut: null };
  const limit = clamp(options.limit ?? 50, 1, 1000);
  const before = Math.min(
    options.beforeSequence ?? Number.MAX_SAFE_INTEGER,
    (options.upToSequence ?? Number.MAX_SAFE_INTEGER - 1) + 1,
  );
  // A derived message stays in the stream when a reorg orphans its source: it is left out with the source.
  const rows = await ctx.tx.any(sql.type(FeedRow)`
    SELECT e.sequence, e.payload FROM ${ctx.table('feed', 'events')} e
    WHERE e.in_feed AND e.sequence < ${before}
      AND NOT (e.kind = 'derived' AND EXISTS (
        SELECT 1 FROM projection_orphans o
        WHERE o.projection = 'feed' AND o.version = ${feed.version}
          AND o.sequence = (e.payload -> 'source' ->> 'sequence')::bigint))
    ORDER BY e.sequence DESC LIMIT ${limit}`);
  const maxEvents = Math.max(1, options.maxEvents ?? 500);
  const out: SequencedFeedEvent[] = [];
  let cut: FeedPage['cut'] = null;
  for (const row of rows) {
    const message = StreamMessage.parse(row.payload);
    const source = feedSource(message);
    const events = toFeedEvents(message, options.feed);
    if (out.length > 0 && out.length + events.length > maxEvents) break;
    if (events.length > maxEvents) cut = { sequenceId: row.sequence, shown: maxEvents, total: events.length };
    for (const event of events.slice(0, maxEvents)) {
      out.push({ ...event, sequenceId: row.sequence, ...source });
    }
  }
  return { events: out, cut };
}

/** The newest feed events, newest first, each with the stream sequence of the message it comes from. */
export async function readRecentFeed(
  pool: DatabasePool,
  options: RecentFeedOptions = {},
): Promise<AsOf & FeedPage> {
  return readConsistent(pool, ['feed'], async (ctx) => ({
    ...(await feedIn(ctx, options)),
    ...asOf(ctx, 'feed'),
  }));
}
