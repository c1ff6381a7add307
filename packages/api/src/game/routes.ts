import { FeedEvent, LevelStats, NetworkState } from '@ghostnet/events';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { errors } from '../http/schemas.ts';

const AsOf = z.number().int().nonnegative().describe('Stream sequence the projection had applied');

/** A feed event with the stream sequence of the message it comes from (the WebSocket cursor). */
const SequencedFeedEvent = z
  .intersection(
    FeedEvent,
    z.object({
      sequenceId: z.number().int().positive(),
      sourceSequenceId: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'For a derived event (SURVIVED): the message it comes from; a REORG naming it drops this event',
        ),
    }),
  )
  .meta({ id: 'SequencedFeedEvent' });

/** The frontend's game state, read from the projections; each answer says which sequence it reflects. */
export function gameRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/game/levels',
    {
      schema: {
        tags: ['game'],
        summary: 'Per-level stats (operators, staked, death rates, next scan)',
        response: { 200: z.object({ levels: z.array(LevelStats), asOfSequenceId: AsOf }), ...errors(429) },
      },
    },
    async () => {
      const { levels, asOfSequenceId } = await ctx.read.levelStats();
      return { levels, asOfSequenceId };
    },
  );

  app.get(
    '/game/network',
    {
      schema: {
        tags: ['game'],
        summary: 'Network state (TVL, operators, scan timestamps, hourly stats); null before the first event',
        response: {
          200: z.object({ networkState: NetworkState.nullable(), asOfSequenceId: AsOf }),
          ...errors(429),
        },
      },
    },
    async () => {
      const { networkState, asOfSequenceId } = await ctx.read.networkState();
      return { networkState, asOfSequenceId };
    },
  );

  app.get(
    '/game/feed',
    {
      schema: {
        tags: ['game'],
        summary:
          'Recent feed events, newest first, each with its stream sequence: a client resumes its WebSocket with ' +
          'RECONNECT{lastSequenceId: asOfSequenceId, epoch} (a cursor without its epoch gets a FULL_SYNC)',
        querystring: z.object({
          limit: z.coerce
            .number()
            .int()
            .min(1)
            .max(200)
            .default(50)
            .describe(
              'Stream messages to read; at most 500 events in all (whole messages, the newest one cut when larger)',
            ),
          before: z.coerce.number().int().positive().optional().describe('Only messages below this sequence'),
        }),
        response: {
          200: z.object({
            events: z.array(SequencedFeedEvent),
            cut: z
              .object({
                sequenceId: z.number().int().positive(),
                shown: z.number().int().positive(),
                total: z.number().int().positive(),
              })
              .nullable()
              .describe(
                "The newest message had more events than a page holds (a big scan's survivors): only the first " +
                  '`shown` of its `total` are in `events`, and paging on with `before` goes past it. Null when ' +
                  'every message of the page is whole',
              ),
            asOfSequenceId: AsOf,
            epoch: z
              .string()
              .nullable()
              .describe('The stream incarnation asOfSequenceId counts in (null before the feed has any)'),
          }),
          ...errors(400, 429),
        },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      const { events, cut, asOfSequenceId, epoch } = await ctx.read.recentFeed(
        before === undefined ? { limit } : { limit, beforeSequence: before },
      );
      return { events, cut, asOfSequenceId, epoch };
    },
  );
}
