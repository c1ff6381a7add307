import { type DatabasePool, sql } from '@ghostnet/db';
import { z } from 'zod';
import { isoWeekStart, utcDay } from '../time.ts';
import { type AsOf, asOf, readConsistent } from './context.ts';
import { clamp } from './game.ts';

export const LeaderboardType = z.enum(['extracted', 'streak', 'pnl']);
export type LeaderboardType = z.infer<typeof LeaderboardType>;
export const LeaderboardPeriod = z.enum(['daily', 'weekly', 'all']);
export type LeaderboardPeriod = z.infer<typeof LeaderboardPeriod>;

export interface LeaderboardEntry {
  rank: number;
  address: string;
  /** Decimal string for every type (amounts in wei; streak as a count). */
  value: string;
}

export interface LeaderboardQuery {
  type: LeaderboardType;
  period: LeaderboardPeriod;
  limit?: number;
  /** The day/week to rank (Unix ms inside it); default now. */
  at?: number;
}

const EntryRow = z.object({ address: z.string(), value: z.string() });

/**
 * Ranked by value, ties by the sequence at which the value was reached (earliest first), then address.
 * `extracted` and `streak` list players with a positive value; `pnl` everyone with a gain or loss in the period.
 */
export async function readLeaderboard(
  pool: DatabasePool,
  query: LeaderboardQuery,
): Promise<AsOf & { entries: LeaderboardEntry[] }> {
  const type = LeaderboardType.parse(query.type);
  const period = LeaderboardPeriod.parse(query.period);
  const limit = clamp(query.limit ?? 100, 1, 1000);
  const at = query.at ?? Date.now();
  const value = sql.identifier([type]);
  const seq = sql.identifier([`${type}_seq`]);
  const present = type === 'pnl' ? sql.fragment`pnl_seq IS NOT NULL` : sql.fragment`${value} > 0`;
  return readConsistent(pool, ['leaderboards'], async (ctx) => {
    if (!ctx.active.has('leaderboards')) return { entries: [], ...asOf(ctx, 'leaderboards') };
    const where =
      period === 'daily'
        ? sql.fragment`day = ${utcDay(at)}::date AND`
        : period === 'weekly'
          ? sql.fragment`week = ${isoWeekStart(at)}::date AND`
          : sql.fragment``;
    const table = ctx.table('leaderboards', `leaderboard_${period}`);
    const rows = await ctx.tx.any(sql.type(EntryRow)`
      SELECT address, ${value}::text AS value FROM ${table}
      WHERE ${where} ${present}
      ORDER BY ${value} DESC, ${seq} ASC, address ASC
      LIMIT ${limit}`);
    return {
      entries: rows.map((r, i) => ({ rank: i + 1, address: r.address, value: r.value })),
      ...asOf(ctx, 'leaderboards'),
    };
  });
}
