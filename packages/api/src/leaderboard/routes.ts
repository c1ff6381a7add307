import { Uint } from '@ghostnet/events';
import { LeaderboardPeriod, LeaderboardType } from '@ghostnet/projections';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { errors } from '../http/schemas.ts';

const Leaderboard = z
  .object({
    type: LeaderboardType,
    period: LeaderboardPeriod,
    entries: z.array(
      z.object({
        rank: z.number().int().positive(),
        address: z.string(),
        value: z
          .string()
          .regex(/^-?[0-9]+$/)
          .describe('Decimal: wei for extracted and pnl (may be negative), a count for streak'),
      }),
    ),
    asOfSequenceId: z.number().int().nonnegative().describe('Stream sequence the projections had applied'),
  })
  .meta({ id: 'Leaderboard' });

/** UTC day or ISO week the period covers right now: a new period invalidates the cache like a new event. */
export function periodKey(period: LeaderboardPeriod, now = Date.now()): string {
  if (period === 'all') return 'all';
  const day = Math.floor(now / 86_400_000);
  if (period === 'daily') return `d${day}`;
  // 1970-01-01 was a Thursday; ISO weeks start on Monday.
  return `w${Math.floor((day + 3) / 7)}`;
}

export function leaderboardRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/leaderboard',
    {
      schema: {
        tags: ['leaderboard'],
        summary:
          'Top players by extracted rewards, ghost streak or PnL, over a UTC day, ISO week or all time',
        querystring: z.object({
          type: LeaderboardType.default('extracted'),
          period: LeaderboardPeriod.default('all'),
          limit: z.coerce.number().int().min(1).max(100).default(100),
        }),
        response: { 200: Leaderboard, ...errors(400, 429) },
      },
    },
    async (request, reply) => {
      const { type, period, limit } = request.query;
      // Validated once when cached, then sent as the cached string: a hit costs no query and no serialization.
      const body = await ctx.cache.get(`lb:${type}:${period}:${limit}:${periodKey(period)}`, async () => {
        const board = await ctx.read.leaderboard({ type, period, limit });
        return JSON.stringify(Leaderboard.parse({ type, period, ...board }));
      });
      reply.type('application/json; charset=utf-8');
      return reply.send(body as never);
    },
  );

  app.get(
    '/leaderboard/crews',
    {
      schema: {
        tags: ['leaderboard'],
        summary: 'Crews ranked by total staked of alive members',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
        response: {
          200: z.object({
            entries: z.array(
              z.object({
                rank: z.number().int().positive(),
                crewId: z.string(),
                name: z.string(),
                tag: z.string(),
                memberCount: z.number().int(),
                value: Uint,
              }),
            ),
            asOfSequenceId: z.number().int().nonnegative(),
          }),
          ...errors(400, 429),
        },
      },
    },
    async (request) => {
      const { crews, asOfSequenceId } = await ctx.read.crewStats({ limit: request.query.limit });
      const found = await Promise.all(crews.map((c) => ctx.crews.get(c.crewId)));
      const entries = crews.flatMap((c, i) => {
        const crew = found[i]?.crew;
        // Dissolved since the projection's checkpoint: it drops out with the next event.
        return crew
          ? [
              {
                rank: c.rank,
                crewId: c.crewId,
                name: crew.name,
                tag: crew.tag,
                memberCount: crew.member_count,
                value: c.totalStaked,
              },
            ]
          : [];
      });
      return { entries, asOfSequenceId };
    },
  );
}
