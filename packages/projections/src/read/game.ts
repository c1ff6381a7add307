import { type DatabasePool, sql } from '@ghostnet/db';
import {
  ActiveBoost,
  Address,
  type LevelName,
  type LevelStats,
  type NetworkState,
  type Position,
} from '@ghostnet/events';
import { z } from 'zod';
import { type AsOf, asOf, type ReadContext, readConsistent } from './context.ts';

export interface UserProfile {
  address: string;
  /** First event naming the player (Unix ms). */
  createdAt: number;
  positionsCount: number;
  totalStaked: string;
  /** Rewards extracted (the `extracted` leaderboard's all-time value). */
  totalExtracted: string;
  totalPrincipalExtracted: string;
  /** Principal lost to traces, culls and reset penalties. */
  totalLost: string;
  ghostStreakBest: number;
}

const UserRow = z.object({
  address: z.string(),
  first_seen_at: z.number(),
  positions_count: z.number(),
  total_staked: z.string(),
  total_extracted: z.string(),
  total_principal_extracted: z.string(),
  total_lost: z.string(),
  ghost_streak_best: z.number(),
});

export async function readUser(
  pool: DatabasePool,
  address: string,
): Promise<AsOf & { user: UserProfile | null }> {
  const addr = Address.parse(address.toLowerCase());
  return readConsistent(pool, ['game'], async (ctx) => {
    if (!ctx.active.has('game')) return { user: null, ...asOf(ctx, 'game') };
    const row = await ctx.tx.maybeOne(sql.type(UserRow)`
      SELECT address, first_seen_at, positions_count, total_staked, total_extracted,
             total_principal_extracted, total_lost, ghost_streak_best
      FROM ${ctx.table('game', 'users')} WHERE address = ${addr}`);
    const user: UserProfile | null = row && {
      address: row.address,
      createdAt: row.first_seen_at,
      positionsCount: row.positions_count,
      totalStaked: row.total_staked,
      totalExtracted: row.total_extracted,
      totalPrincipalExtracted: row.total_principal_extracted,
      totalLost: row.total_lost,
      ghostStreakBest: row.ghost_streak_best,
    };
    return { user, ...asOf(ctx, 'game') };
  });
}

const PositionRow = z.object({
  id: z.string(),
  address: z.string(),
  level: z.string(),
  amount: z.string(),
  entry_at: z.number(),
  ghost_streak: z.number(),
  next_scan_at: z.number().nullable(),
  earned: z.string(),
  boosts: z.array(ActiveBoost),
});

function toPosition(row: z.infer<typeof PositionRow>): Position {
  return {
    id: row.id,
    address: row.address,
    level: row.level as LevelName,
    stakedAmount: row.amount,
    entryTimestamp: row.entry_at,
    earnedYield: row.earned,
    ghostStreak: row.ghost_streak,
    nextScanTimestamp: row.next_scan_at,
    boosts: row.boosts,
  };
}

export async function positionIn(ctx: ReadContext, address: string): Promise<Position | null> {
  if (!ctx.active.has('game')) return null;
  const row = await ctx.tx.maybeOne(sql.type(PositionRow)`
    SELECT p.id, p.address, p.level, p.amount, p.entry_at, p.ghost_streak, s.next_scan_at,
      -- GhostCore._pending: stored + max(amount × acc / 1e18 − debt, 0)
      (p.stored_rewards + GREATEST(div(p.amount * s.acc_rewards_per_share, 1000000000000000000) - p.reward_debt, 0))::text
        AS earned,
      -- GhostCore.getActiveBoosts, at the chain time of the last projected block (so the answer belongs to
      -- the sequence it is served with): boosts outlive a death, only an extract deletes them.
      COALESCE((
        SELECT json_agg(json_build_object(
          'type', b.boost_type, 'valueBps', b.value_bps,
          'expiresAt', (extract(epoch FROM b.expires_at) * 1000)::bigint) ORDER BY b.sequence)
        FROM ${ctx.table('game', 'boosts')} b, ${ctx.table('game', 'network_state')} n
        WHERE b.address = p.address AND b.removed_seq IS NULL AND b.expires_at > n.last_block_at
      ), '[]'::json) AS boosts
    FROM ${ctx.table('game', 'positions')} p
    JOIN ${ctx.table('game', 'level_stats')} s ON s.level = p.level
    WHERE p.address = ${address} AND p.status = 'active'`);
  return row ? toPosition(row) : null;
}

/** The player's live position (what getPosition reports while alive), in the frontend's `Position` shape. */
export async function readPosition(
  pool: DatabasePool,
  address: string,
): Promise<AsOf & { position: Position | null }> {
  const addr = Address.parse(address.toLowerCase());
  return readConsistent(pool, ['game'], async (ctx) => ({
    position: await positionIn(ctx, addr),
    ...asOf(ctx, 'game'),
  }));
}

export interface PositionRecord {
  id: string;
  address: string;
  level: LevelName;
  status: 'active' | 'extracted' | 'traced' | 'culled';
  stakedAmount: string;
  entryAmount: string;
  entryTimestamp: number;
  entrySequenceId: number;
  entryTx: string;
  ghostStreak: number;
  rewardsExtracted: string | null;
  amountLost: string;
  exitTimestamp: number | null;
  exitSequenceId: number | null;
  exitTx: string | null;
}

const RecordRow = z.object({
  id: z.string(),
  address: z.string(),
  level: z.string(),
  status: z.enum(['active', 'extracted', 'traced', 'culled']),
  amount: z.string(),
  entry_amount: z.string(),
  entry_at: z.number(),
  entry_seq: z.number(),
  entry_tx: z.string(),
  ghost_streak: z.number(),
  rewards_extracted: z.string().nullable(),
  amount_lost: z.string(),
  exit_at: z.number().nullable(),
  exit_seq: z.number().nullable(),
  exit_tx: z.string().nullable(),
});

/** Every position the player held, newest first (GET /users/:address/history). */
const CountRow = z.object({ n: z.number() });

export async function readUserHistory(
  pool: DatabasePool,
  address: string,
  options: { limit?: number; offset?: number } = {},
): Promise<AsOf & { positions: PositionRecord[]; total: number }> {
  const addr = Address.parse(address.toLowerCase());
  const limit = clamp(options.limit ?? 50, 1, 500);
  const offset = Math.max(0, Math.floor(options.offset ?? 0));
  return readConsistent(pool, ['game'], async (ctx) => {
    if (!ctx.active.has('game')) return { positions: [], total: 0, ...asOf(ctx, 'game') };
    const positions = ctx.table('game', 'positions');
    const rows = await ctx.tx.any(sql.type(RecordRow)`
      SELECT id, address, level, status, amount, entry_amount, entry_at, entry_seq, entry_tx, ghost_streak,
             rewards_extracted, amount_lost, exit_at, exit_seq, exit_tx
      FROM ${positions} WHERE address = ${addr}
      ORDER BY entry_seq DESC LIMIT ${limit} OFFSET ${offset}`);
    const total = await ctx.tx.oneFirst(
      sql.type(CountRow)`SELECT count(*)::int AS n FROM ${positions} WHERE address = ${addr}`,
    );
    return {
      positions: rows.map((r) => ({
        id: r.id,
        address: r.address,
        level: r.level as LevelName,
        status: r.status,
        stakedAmount: r.amount,
        entryAmount: r.entry_amount,
        entryTimestamp: r.entry_at,
        entrySequenceId: r.entry_seq,
        entryTx: r.entry_tx,
        ghostStreak: r.ghost_streak,
        rewardsExtracted: r.rewards_extracted,
        amountLost: r.amount_lost,
        exitTimestamp: r.exit_at,
        exitSequenceId: r.exit_seq,
        exitTx: r.exit_tx,
      })),
      total,
      ...asOf(ctx, 'game'),
    };
  });
}

export interface PositionEvent {
  sequenceId: number;
  positionId: string;
  kind: string;
  level: LevelName;
  amount: string | null;
  rewards: string | null;
  positionAmount: string;
  ghostStreak: number;
  timestamp: number;
  txHash: string | null;
}

const EventRow = z.object({
  sequence: z.number(),
  position_id: z.string(),
  kind: z.string(),
  level: z.string(),
  amount: z.string().nullable(),
  rewards: z.string().nullable(),
  position_amount: z.string(),
  ghost_streak: z.number(),
  at: z.number(),
  tx_hash: z.string().nullable(),
});

/** What happened to the player's positions (jack-ins, stake adds, survivals, traces, …), newest first. */
export async function readPositionEvents(
  pool: DatabasePool,
  address: string,
  options: { limit?: number; beforeSequence?: number } = {},
): Promise<AsOf & { events: PositionEvent[] }> {
  const addr = Address.parse(address.toLowerCase());
  const limit = clamp(options.limit ?? 50, 1, 500);
  const before = options.beforeSequence ?? Number.MAX_SAFE_INTEGER;
  return readConsistent(pool, ['game'], async (ctx) => {
    if (!ctx.active.has('game')) return { events: [], ...asOf(ctx, 'game') };
    const rows = await ctx.tx.any(sql.type(EventRow)`
      SELECT sequence, position_id, kind, level, amount, rewards, position_amount, ghost_streak, at, tx_hash
      FROM ${ctx.table('game', 'position_history')}
      WHERE address = ${addr} AND sequence < ${before}
      ORDER BY sequence DESC LIMIT ${limit}`);
    return {
      events: rows.map((r) => ({
        sequenceId: r.sequence,
        positionId: r.position_id,
        kind: r.kind,
        level: r.level as LevelName,
        amount: r.amount,
        rewards: r.rewards,
        positionAmount: r.position_amount,
        ghostStreak: r.ghost_streak,
        timestamp: r.at,
        txHash: r.tx_hash,
      })),
      ...asOf(ctx, 'game'),
    };
  });
}

const LevelRow = z.object({
  level: z.string(),
  base_death_rate_bps: z.number(),
  alive_count: z.number(),
  total_staked: z.string(),
  next_scan_at: z.number().nullable(),
  effective: z.number(),
});

export async function levelsIn(ctx: ReadContext): Promise<LevelStats[]> {
  if (!ctx.active.has('game')) return [];
  const rows = await ctx.tx.any(sql.type(LevelRow)`
    WITH now_ AS (SELECT last_block_at AS t FROM ${ctx.table('game', 'network_state')})
    SELECT c.level, c.base_death_rate_bps, s.alive_count, s.total_staked, s.next_scan_at,
      COALESCE((
        SELECT round(avg(GREATEST(c.base_death_rate_bps - COALESCE(b.reduction, 0), 0)))::int
        FROM ${ctx.table('game', 'positions')} p
        LEFT JOIN LATERAL (
          SELECT sum(value_bps) AS reduction FROM ${ctx.table('game', 'boosts')} b
          WHERE b.address = p.address AND b.removed_seq IS NULL AND b.boost_type = 'DEATH_REDUCTION'
            AND b.expires_at > (SELECT t FROM now_)
        ) b ON true
        WHERE p.level = c.level AND p.status = 'active'
      ), c.base_death_rate_bps) AS effective
    FROM public.level_config c
    JOIN ${ctx.table('game', 'level_stats')} s ON s.level = c.level
    ORDER BY c.level_index`);
  return rows.map((r) => ({
    level: r.level as LevelName,
    operatorCount: r.alive_count,
    totalStaked: r.total_staked,
    baseDeathRate: r.base_death_rate_bps,
    // Mean over alive positions of (base − active death-reduction boosts), floored at 0, as of the last block.
    effectiveDeathRate: r.effective,
    nextScanTimestamp: r.next_scan_at,
  }));
}

export async function readLevelStats(pool: DatabasePool): Promise<AsOf & { levels: LevelStats[] }> {
  return readConsistent(pool, ['game'], async (ctx) => ({
    levels: await levelsIn(ctx),
    ...asOf(ctx, 'game'),
  }));
}

const NetworkRow = z.object({
  tvl: z.string(),
  operators_online: z.number(),
  operators_ath: z.number(),
  jacked_in: z.string(),
  extracted: z.string(),
  traced: z.string(),
  burned: z.string(),
  reset_deadline: z.number().nullable(),
});

export interface NetworkStateOptions {
  /** NetworkState.tvlCapacity: no event carries it; the deployment configures it. */
  tvlCapacity?: string;
}

export async function networkStateIn(
  ctx: ReadContext,
  options: NetworkStateOptions = {},
): Promise<NetworkState | null> {
  if (!ctx.active.has('game')) return null;
  const row = await ctx.tx.one(sql.type(NetworkRow)`
    WITH totals AS (
      SELECT COALESCE(sum(total_staked), 0)::numeric(78,0) AS tvl, COALESCE(sum(alive_count), 0)::int AS online
      FROM ${ctx.table('game', 'level_stats')}
    ), hour AS (
      SELECT COALESCE(sum(m.jacked_in), 0)::numeric(78,0) AS jacked_in,
             COALESCE(sum(m.extracted), 0)::numeric(78,0) AS extracted,
             COALESCE(sum(m.traced), 0)::numeric(78,0) AS traced,
             COALESCE(sum(m.burned), 0)::numeric(78,0) AS burned
      FROM ${ctx.table('game', 'network_minutes')} m, ${ctx.table('game', 'network_state')} n
      WHERE m.minute > n.last_block_at - interval '1 hour'
    )
    SELECT t.tvl, t.online AS operators_online, n.operators_ath, h.jacked_in, h.extracted, h.traced, h.burned,
           n.reset_deadline
    FROM totals t, hour h, ${ctx.table('game', 'network_state')} n`);
  const levels = await levelsIn(ctx);
  return {
    tvl: row.tvl,
    tvlCapacity: options.tvlCapacity ?? '0',
    operatorsOnline: row.operators_online,
    operatorsAth: row.operators_ath,
    // GhostCore's reset deadline as deposits extend it (approximate until the first deposit; README).
    systemResetTimestamp: row.reset_deadline,
    traceScanTimestamps: Object.fromEntries(levels.map((l) => [l.level, l.nextScanTimestamp])) as Record<
      LevelName,
      number | null
    >,
    burnRatePerHour: row.burned,
    hourlyStats: { jackedIn: row.jacked_in, extracted: row.extracted, traced: row.traced },
  };
}

export async function readNetworkState(
  pool: DatabasePool,
  options: NetworkStateOptions = {},
): Promise<AsOf & { networkState: NetworkState | null }> {
  return readConsistent(pool, ['game'], async (ctx) => ({
    networkState: await networkStateIn(ctx, options),
    ...asOf(ctx, 'game'),
  }));
}

export function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(n)));
}
