import { type DatabasePool, sql } from '@ghostnet/db';
import { Uint } from '@ghostnet/events';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { ApiError } from '../http/errors.ts';
import { AddressInput, errors, Ok, Pagination, StoredText } from '../http/schemas.ts';
import { requireSession, sessionOf } from '../http/session.ts';
import type { CrewStats } from '../read/readModel.ts';
import { CrewRow } from './crewStore.ts';
import { CrewDescription, CrewName, CrewRole, CrewTag } from './rules.ts';

const CrewIdParams = z.object({ id: z.guid('a crew id (uuid)') });

const CrewStatsBody = z.object({
  memberCount: z.number().int().nonnegative(),
  totalStaked: Uint.describe('Total staked by alive members'),
  weeklyExtracted: Uint.describe('Rewards extracted by members this ISO week (UTC)'),
});

const CrewSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    tag: z.string(),
    description: z.string(),
    createdAt: z.number().int(),
    rank: z
      .number()
      .int()
      .positive()
      .nullable()
      .describe('By total staked of alive members; null until the projector has seen the crew'),
    stats: CrewStatsBody,
  })
  .meta({ id: 'CrewSummary' });

const CrewDetail = CrewSummary.extend({
  createdBy: z.string(),
  members: z.array(z.object({ address: z.string(), role: CrewRole, joinedAt: z.number().int() })),
  bonuses: z.array(z.object({ type: z.string(), valueBps: z.number().int() })).describe('None defined yet'),
}).meta({ id: 'CrewDetail' });

const auth: Record<string, string[]>[] = [{ bearer: [] }, { cookie: [] }];

export function crewRoutes(app: ZodApp, ctx: ApiContext): void {
  const signedIn = requireSession(ctx.pool);

  app.get(
    '/crews',
    {
      schema: {
        tags: ['crews'],
        summary: 'Crews, searchable by name or tag',
        querystring: z.object({
          search: StoredText(24).optional(),
          sort: z.enum(['rank', 'members', 'name', 'newest']).default('rank'),
          ...Pagination,
        }),
        response: {
          200: z.object({ crews: z.array(CrewSummary), total: z.number().int().nonnegative() }),
          ...errors(400, 429),
        },
      },
    },
    async (request) => {
      const { search, sort, limit, offset } = request.query;
      const crews = await allCrews(ctx.pool, search);
      // Ranks decide the order only for sort=rank; otherwise only the page needs its stats.
      let page: CrewRow[];
      let standings: Standings;
      if (sort === 'rank') {
        standings = await crewStandings(
          ctx,
          crews.map((c) => c.id),
        );
        page = crews.sort(comparator(sort, standings)).slice(offset, offset + limit);
      } else {
        page = crews.sort(comparator(sort, new Map())).slice(offset, offset + limit);
        standings = await crewStandings(
          ctx,
          page.map((c) => c.id),
        );
      }
      return { crews: page.map((crew) => summary(crew, standings)), total: crews.length };
    },
  );

  app.get(
    '/crews/:id',
    {
      schema: {
        tags: ['crews'],
        summary: 'A crew with its members and stats',
        params: CrewIdParams,
        response: { 200: CrewDetail, ...errors(400, 404, 429) },
      },
    },
    async (request) => {
      const found = await ctx.crews.get(request.params.id);
      if (!found) throw new ApiError(404, 'CREW_NOT_FOUND', 'no such crew');
      const standings = await crewStandings(ctx, [found.crew.id]);
      return {
        ...summary(found.crew, standings),
        createdBy: found.crew.created_by,
        members: found.members.map((m) => ({ address: m.address, role: m.role, joinedAt: m.joined_at })),
        bonuses: [],
      };
    },
  );

  app.post(
    '/crews',
    {
      preHandler: signedIn,
      schema: {
        tags: ['crews'],
        summary: 'Found a crew (you become its leader)',
        security: auth,
        body: z.object({ name: CrewName, tag: CrewTag, description: CrewDescription }),
        response: {
          201: z.object({ id: z.string(), name: z.string(), tag: z.string() }),
          ...errors(400, 401, 409, 429),
        },
      },
    },
    async (request, reply) => {
      const crew = await ctx.crews.create({ address: sessionOf(request).address, ...request.body });
      reply.code(201);
      return { id: crew.id, name: crew.name, tag: crew.tag };
    },
  );

  app.post(
    '/crews/:id/join',
    {
      preHandler: signedIn,
      schema: {
        tags: ['crews'],
        summary: 'Join a crew (one crew per player, 50 members at most)',
        security: auth,
        params: CrewIdParams,
        response: { 200: Ok, ...errors(400, 401, 404, 409, 429) },
      },
    },
    async (request) => {
      await ctx.crews.join(request.params.id, sessionOf(request).address);
      return { success: true as const };
    },
  );

  app.post(
    '/crews/:id/leave',
    {
      preHandler: signedIn,
      schema: {
        tags: ['crews'],
        summary: 'Leave a crew; a leader hands over, the last member dissolves it',
        security: auth,
        params: CrewIdParams,
        response: {
          200: Ok.extend({ dissolved: z.boolean(), newLeader: z.string().nullable() }),
          ...errors(400, 401, 404, 409, 429),
        },
      },
    },
    async (request) => {
      const result = await ctx.crews.leave(request.params.id, sessionOf(request).address);
      return { success: true as const, ...result };
    },
  );

  app.post(
    '/crews/:id/members/:address/role',
    {
      preHandler: signedIn,
      schema: {
        tags: ['crews'],
        summary: "The leader sets a member's role (officer or member)",
        security: auth,
        params: CrewIdParams.extend({ address: AddressInput }),
        body: z.object({ role: z.enum(['officer', 'member']) }),
        response: { 200: Ok, ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      const { id, address } = request.params;
      await ctx.crews.setRole(id, sessionOf(request).address, address, request.body.role);
      return { success: true as const };
    },
  );
}

type Standings = Map<string, CrewStats>;

/**
 * Stats of the given crews from the crews projection, with their global ranks (by total staked of alive
 * members). A crew the projector has not seen yet (its CrewEvent is still on the way) has none.
 */
export async function crewStandings(ctx: ApiContext, crewIds: string[]): Promise<Standings> {
  const standings: Standings = new Map();
  for (let i = 0; i < crewIds.length; i += 1000) {
    const ids = crewIds.slice(i, i + 1000);
    const { crews } = await ctx.read.crewStats({ crewIds: ids, limit: ids.length });
    for (const crew of crews) standings.set(crew.crewId, crew);
  }
  return standings;
}

async function allCrews(pool: DatabasePool, search?: string): Promise<CrewRow[]> {
  const filter = search
    ? sql.fragment`WHERE name ILIKE ${`%${escapeLike(search)}%`} OR tag ILIKE ${`%${escapeLike(search)}%`}`
    : sql.fragment``;
  const rows = await pool.any(sql.type(CrewRow)`
    SELECT id, name, tag, description, created_by, created_at, member_count FROM api_crews ${filter}
    ORDER BY created_at, id`);
  return [...rows];
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function summary(crew: CrewRow, standings: Standings) {
  const standing = standings.get(crew.id);
  return {
    id: crew.id,
    name: crew.name,
    tag: crew.tag,
    description: crew.description,
    createdAt: crew.created_at,
    rank: standing?.rank ?? null,
    stats: {
      memberCount: crew.member_count,
      totalStaked: standing?.totalStaked ?? '0',
      weeklyExtracted: standing?.weeklyExtracted ?? '0',
    },
  };
}

function comparator(sort: 'rank' | 'members' | 'name' | 'newest', standings: Standings) {
  const rank = (c: CrewRow) => standings.get(c.id)?.rank ?? Number.MAX_SAFE_INTEGER;
  const older = (a: CrewRow, b: CrewRow) => a.created_at - b.created_at || a.id.localeCompare(b.id);
  switch (sort) {
    case 'rank':
      return (a: CrewRow, b: CrewRow) => rank(a) - rank(b) || older(a, b);
    case 'members':
      return (a: CrewRow, b: CrewRow) => b.member_count - a.member_count || rank(a) - rank(b) || older(a, b);
    case 'name':
      return (a: CrewRow, b: CrewRow) => a.name.toLowerCase().localeCompare(b.name.toLowerCase());
    case 'newest':
      return (a: CrewRow, b: CrewRow) => older(b, a);
  }
}
