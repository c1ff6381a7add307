import { LevelName, Position, Uint } from '@ghostnet/events';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { CrewRole } from '../crews/rules.ts';
import { ApiError } from '../http/errors.ts';
import { AddressParams, errors, Pagination } from '../http/schemas.ts';

export const UserProfileResponse = z
  .object({
    address: z.string(),
    ensName: z.string().nullable().describe('Primary ENS name via the mainnet RPC; null without one'),
    createdAt: z.number().int().nullable().describe('First event naming the player (Unix ms)'),
    totalExtracted: Uint.describe('Rewards extracted, all time'),
    ghostStreakBest: z.number().int().nonnegative(),
    position: Position.nullable().describe('The alive position, in the frontend shape'),
    totals: z.object({
      positionsCount: z.number().int().nonnegative(),
      totalStaked: Uint.describe('Principal put in, all positions'),
      totalPrincipalExtracted: Uint,
      totalLost: Uint.describe('Principal lost to traces, culls and reset penalties'),
    }),
    crew: z
      .object({
        id: z.string(),
        name: z.string(),
        tag: z.string(),
        role: CrewRole,
        joinedAt: z.number().int(),
      })
      .nullable(),
  })
  .meta({ id: 'UserProfile' });

export const HistoryEntry = z
  .object({
    id: z.string(),
    level: LevelName,
    status: z.enum(['active', 'extracted', 'traced', 'culled']),
    exitType: z.enum(['extracted', 'traced', 'culled']).nullable(),
    stakedAmount: Uint,
    entryAmount: Uint,
    entryTimestamp: z.number().int(),
    entrySequenceId: z.number().int(),
    entryTx: z.string(),
    ghostStreak: z.number().int().nonnegative(),
    rewards: Uint.nullable().describe('Rewards extracted with the position'),
    amountLost: Uint,
    exitTimestamp: z.number().int().nullable(),
    exitSequenceId: z.number().int().nullable(),
    exitTx: z.string().nullable(),
  })
  .meta({ id: 'HistoryEntry' });

export function userRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/users/:address',
    {
      schema: {
        tags: ['users'],
        summary: 'Profile: current position, totals, best streak, crew',
        params: AddressParams,
        response: { 200: UserProfileResponse, ...errors(400, 404, 429) },
      },
    },
    async (request) => {
      const { address } = request.params;
      const [{ user, position, crew }, ensName] = await Promise.all([
        ctx.read.profile(address),
        ctx.ens.nameOf(address),
      ]);
      if (!user && !crew) throw new ApiError(404, 'USER_NOT_FOUND', 'no player with this address');
      return {
        address,
        ensName,
        createdAt: user?.createdAt ?? null,
        totalExtracted: user?.totalExtracted ?? '0',
        ghostStreakBest: user?.ghostStreakBest ?? 0,
        position,
        totals: {
          positionsCount: user?.positionsCount ?? 0,
          totalStaked: user?.totalStaked ?? '0',
          totalPrincipalExtracted: user?.totalPrincipalExtracted ?? '0',
          totalLost: user?.totalLost ?? '0',
        },
        crew: crew && {
          id: crew.crewId,
          name: crew.crewName,
          tag: crew.crewTag,
          role: crew.role,
          joinedAt: crew.joinedAt,
        },
      };
    },
  );

  app.get(
    '/users/:address/history',
    {
      schema: {
        tags: ['users'],
        summary: 'Every position the player held, newest first, with exit type and rewards',
        params: AddressParams,
        querystring: z.object(Pagination),
        response: {
          200: z.object({
            positions: z.array(HistoryEntry),
            total: z.number().int().nonnegative(),
            limit: z.number().int(),
            offset: z.number().int(),
          }),
          ...errors(400, 429),
        },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await ctx.read.history(request.params.address, { limit, offset });
      return {
        positions: page.positions.map((p) => ({
          id: p.id,
          level: p.level,
          status: p.status,
          exitType: p.status === 'active' ? null : p.status,
          stakedAmount: p.stakedAmount,
          entryAmount: p.entryAmount,
          entryTimestamp: p.entryTimestamp,
          entrySequenceId: p.entrySequenceId,
          entryTx: p.entryTx,
          ghostStreak: p.ghostStreak,
          rewards: p.rewardsExtracted,
          amountLost: p.amountLost,
          exitTimestamp: p.exitTimestamp,
          exitSequenceId: p.exitSequenceId,
          exitTx: p.exitTx,
        })),
        total: page.total,
        limit,
        offset,
      };
    },
  );
}
