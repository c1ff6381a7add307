import { type DatabasePool, sql } from '@ghostnet/db';
import { z } from 'zod';
import { isoWeekStart } from '../time.ts';
import { type AsOf, asOf, readConsistent } from './context.ts';
import { clamp } from './game.ts';

export interface CrewStats {
  crewId: string;
  name: string;
  /** 1-based, by total staked of alive members (facts file), ties by creation order. */
  rank: number;
  memberCount: number;
  totalStaked: string;
  weeklyExtracted: string;
}

const CrewRow = z.object({
  crew_id: z.string(),
  name: z.string(),
  rank: z.number(),
  member_count: z.number(),
  total_staked: z.string(),
  weekly_extracted: z.string(),
});

/** Stats of existing crews, best first; `crewIds` narrows the result (ranks stay global). */
export async function readCrewStats(
  pool: DatabasePool,
  options: { crewIds?: string[]; limit?: number; at?: number } = {},
): Promise<AsOf & { crews: CrewStats[] }> {
  const limit = clamp(options.limit ?? 100, 1, 1000);
  const week = isoWeekStart(options.at ?? Date.now());
  return readConsistent(pool, ['crews'], async (ctx) => {
    if (!ctx.active.has('crews')) return { crews: [], ...asOf(ctx, 'crews') };
    const filter = options.crewIds
      ? sql.fragment`WHERE crew_id = ANY(${sql.array(options.crewIds, 'text')})`
      : sql.fragment``;
    const rows = await ctx.tx.any(sql.type(CrewRow)`
      WITH stats AS (
        SELECT s.crew_id, s.name, s.member_count, s.created_seq,
          COALESCE((
            SELECT sum(p.amount) FROM ${ctx.table('crews', 'crew_roster')} r
            JOIN ${ctx.table('crews', '_players')} p ON p.address = r.address AND p.alive
            WHERE r.crew_id = s.crew_id
          ), 0)::numeric(78,0) AS total_staked,
          COALESCE((
            SELECT w.extracted FROM ${ctx.table('crews', 'crew_weekly')} w
            WHERE w.crew_id = s.crew_id AND w.week = ${week}::date
          ), 0)::numeric(78,0) AS weekly_extracted
        FROM ${ctx.table('crews', 'crew_summary')} s
        WHERE s.dissolved_seq IS NULL
      ), ranked AS (
        SELECT *, rank() OVER (ORDER BY total_staked DESC, created_seq ASC)::int AS rank FROM stats
      )
      SELECT crew_id, name, rank, member_count, total_staked::text, weekly_extracted::text
      FROM ranked ${filter}
      ORDER BY rank LIMIT ${limit}`);
    return {
      crews: rows.map((r) => ({
        crewId: r.crew_id,
        name: r.name,
        rank: r.rank,
        memberCount: r.member_count,
        totalStaked: r.total_staked,
        weeklyExtracted: r.weekly_extracted,
      })),
      ...asOf(ctx, 'crews'),
    };
  });
}
