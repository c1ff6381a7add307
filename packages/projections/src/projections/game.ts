import { sql } from '@ghostnet/db';
import type { LevelName } from '@ghostnet/events';
import type { DatabaseTransactionConnection, FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { type ProjectedMessage, type Projection, UnappliableEventError } from '../runtime/types.ts';
import { minuteStart } from '../time.ts';
import { afterReset, big, type Chain, touchedPlayers, writeAll } from './common.ts';

const PRECISION = 10n ** 18n;
const BPS = 10_000n;
const CULL_BURN_BPS = 3000n;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const DATA = 10n ** 18n;

function satSub(a: bigint, b: bigint): bigint {
  return a > b ? a - b : 0n;
}

/**
 * `game`: users, positions (+ history), boosts, level stats and network state.
 *
 * The arithmetic is GhostCore's (reward accumulators with 1e18 precision, floors, saturating level totals,
 * the reset's per-level and per-position floors), so the tables equal getPosition / getLevelState.
 *
 * A batch loads the state of every player it names, applies the events in order in memory, and writes each
 * table back with one statement. Events that touch players the batch does not name (a scan's survivors, the
 * system reset) run as one set-based statement over the players not loaded, at their place in the batch.
 */

type Status = 'active' | 'extracted' | 'traced' | 'culled';

interface Pos {
  id: string;
  address: string;
  level: LevelName;
  status: Status;
  amount: bigint;
  entryAmount: bigint;
  entryAt: number;
  entrySeq: number;
  entryTx: string;
  ghostStreak: number;
  rewardsExtracted: bigint | null;
  amountLost: bigint;
  exitAt: number | null;
  exitSeq: number | null;
  exitTx: string | null;
  lastSeq: number;
  rewardDebt: bigint;
  storedRewards: bigint;
  isNew: boolean;
}

interface User {
  address: string;
  firstSeenAt: number;
  firstSeenSeq: number;
  positionsCount: number;
  totalStaked: bigint;
  totalExtracted: bigint;
  totalPrincipalExtracted: bigint;
  totalLost: bigint;
  ghostStreakBest: number;
  lastSeq: number;
  dirty: boolean;
}

interface Level {
  level: LevelName;
  index: number;
  intervalMs: number;
  acc: bigint;
  aliveCount: number;
  totalStaked: bigint;
  nextScanAt: number | null;
  currentScanId: string | null;
  currentScanExecutedAt: number | null;
  lastScanFinalizedAt: number | null;
  scansFinalized: number;
  tracedCount: number;
  emissionsTotal: bigint;
  burnedTotal: bigint;
  distributedTotal: bigint;
  lastSeq: number;
  dirty: boolean;
}

interface Network {
  operatorsAth: number;
  lastBlockNumber: number | null;
  lastBlockAt: number | null;
  lastResetAt: number | null;
  resets: number;
  resetDeadline: number | null;
  lastSeq: number;
}

interface Minute {
  jackedIn: bigint;
  extracted: bigint;
  traced: bigint;
  burned: bigint;
}

type HistoryKind =
  | 'JACK_IN'
  | 'STAKE_ADDED'
  | 'EXTRACTED'
  | 'TRACED'
  | 'CULLED'
  | 'SURVIVED'
  | 'BOOST'
  | 'RESET_PENALTY';

const PosRow = z.object({
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
  last_seq: z.number(),
  reward_debt: z.string(),
  stored_rewards: z.string(),
});

const UserRow = z.object({
  address: z.string(),
  first_seen_at: z.number(),
  first_seen_seq: z.number(),
  positions_count: z.number(),
  total_staked: z.string(),
  total_extracted: z.string(),
  total_principal_extracted: z.string(),
  total_lost: z.string(),
  ghost_streak_best: z.number(),
  last_seq: z.number(),
});

const LevelRow = z.object({
  level: z.string(),
  level_index: z.number(),
  scan_interval_seconds: z.number(),
  acc_rewards_per_share: z.string(),
  alive_count: z.number(),
  total_staked: z.string(),
  next_scan_at: z.number().nullable(),
  current_scan_id: z.string().nullable(),
  current_scan_executed_at: z.number().nullable(),
  last_scan_finalized_at: z.number().nullable(),
  scans_finalized: z.number(),
  traced_count: z.number(),
  emissions_total: z.string(),
  burned_total: z.string(),
  distributed_total: z.string(),
  last_seq: z.number(),
});

const NetworkRow = z.object({
  operators_ath: z.number(),
  last_block_number: z.number().nullable(),
  last_block_at: z.number().nullable(),
  last_reset_at: z.number().nullable(),
  resets: z.number(),
  reset_deadline: z.number().nullable(),
  last_seq: z.number(),
});

const BatchState = z.object({
  positions: z.array(PosRow),
  users: z.array(UserRow),
  levels: z.array(LevelRow),
  network: NetworkRow,
});

class GameBatch {
  readonly positions = new Map<string, Pos>();
  readonly active = new Map<string, Pos>();
  readonly users = new Map<string, User>();
  readonly levels = new Map<LevelName, Level>();
  readonly history: unknown[][] = [];
  readonly boosts: { row: unknown[]; address: string; removedSeq: number | null }[] = [];
  /** Boosts that existed before the batch, removed by an extract in it: address → first extract's sequence. */
  readonly removedBefore = new Map<string, number>();
  readonly minutes = new Map<number, Minute>();
  network!: Network;
  loaded: string[] = [];
  /** Scans finalized in this batch, applied to the players it did not load in one statement (survive()). */
  finalizes: { level: LevelName; seq: number; at: number; tx: string }[] = [];

  constructor(readonly tx: DatabaseTransactionConnection) {}

  /**
   * The batch's starting state in one round trip (a live batch is a handful of events, and each statement
   * costs more than its rows): the active positions and users of the players it names, every level, the
   * network row, as JSON with uint256 as text and times as epoch ms.
   */
  async load(addresses: string[]): Promise<void> {
    const { tx } = this;
    this.loaded = addresses;
    const players = sql.array(addresses, 'text');
    const state = await tx.one(sql.type(BatchState)`
      SELECT
        (SELECT coalesce(json_agg(json_build_object(
            'id', id, 'address', address, 'level', level, 'status', status, 'amount', amount::text,
            'entry_amount', entry_amount::text, 'entry_at', ts_to_ms(entry_at), 'entry_seq', entry_seq,
            'entry_tx', entry_tx, 'ghost_streak', ghost_streak, 'rewards_extracted', rewards_extracted::text,
            'amount_lost', amount_lost::text, 'exit_at', ts_to_ms(exit_at), 'exit_seq', exit_seq, 'exit_tx', exit_tx,
            'last_seq', last_seq, 'reward_debt', reward_debt::text, 'stored_rewards', stored_rewards::text)), '[]')
         FROM positions WHERE address = ANY(${players}) AND status = 'active') AS positions,
        (SELECT coalesce(json_agg(json_build_object(
            'address', address, 'first_seen_at', ts_to_ms(first_seen_at), 'first_seen_seq', first_seen_seq,
            'positions_count', positions_count, 'total_staked', total_staked::text,
            'total_extracted', total_extracted::text, 'total_principal_extracted', total_principal_extracted::text,
            'total_lost', total_lost::text, 'ghost_streak_best', ghost_streak_best, 'last_seq', last_seq)), '[]')
         FROM users WHERE address = ANY(${players})) AS users,
        (SELECT json_agg(json_build_object(
            'level', s.level, 'level_index', c.level_index, 'scan_interval_seconds', c.scan_interval_seconds,
            'acc_rewards_per_share', s.acc_rewards_per_share::text, 'alive_count', s.alive_count,
            'total_staked', s.total_staked::text, 'next_scan_at', ts_to_ms(s.next_scan_at),
            'current_scan_id', s.current_scan_id::text,
            'current_scan_executed_at', ts_to_ms(s.current_scan_executed_at),
            'last_scan_finalized_at', ts_to_ms(s.last_scan_finalized_at), 'scans_finalized', s.scans_finalized,
            'traced_count', s.traced_count, 'emissions_total', s.emissions_total::text,
            'burned_total', s.burned_total::text, 'distributed_total', s.distributed_total::text,
            'last_seq', s.last_seq))
         FROM level_stats s JOIN public.level_config c ON c.level = s.level) AS levels,
        (SELECT json_build_object(
            'operators_ath', operators_ath, 'last_block_number', last_block_number,
            'last_block_at', ts_to_ms(last_block_at), 'last_reset_at', ts_to_ms(last_reset_at), 'resets', resets,
            'reset_deadline', ts_to_ms(reset_deadline), 'last_seq', last_seq)
         FROM network_state) AS network`);
    const { positions, users, levels, network: n } = state;
    for (const r of positions) {
      const pos: Pos = {
        id: r.id,
        address: r.address,
        level: r.level as LevelName,
        status: r.status,
        amount: big(r.amount),
        entryAmount: big(r.entry_amount),
        entryAt: r.entry_at,
        entrySeq: r.entry_seq,
        entryTx: r.entry_tx,
        ghostStreak: r.ghost_streak,
        rewardsExtracted: r.rewards_extracted === null ? null : big(r.rewards_extracted),
        amountLost: big(r.amount_lost),
        exitAt: r.exit_at,
        exitSeq: r.exit_seq,
        exitTx: r.exit_tx,
        lastSeq: r.last_seq,
        rewardDebt: big(r.reward_debt),
        storedRewards: big(r.stored_rewards),
        isNew: false,
      };
      this.active.set(pos.address, pos);
    }
    for (const r of users) {
      this.users.set(r.address, {
        address: r.address,
        firstSeenAt: r.first_seen_at,
        firstSeenSeq: r.first_seen_seq,
        positionsCount: r.positions_count,
        totalStaked: big(r.total_staked),
        totalExtracted: big(r.total_extracted),
        totalPrincipalExtracted: big(r.total_principal_extracted),
        totalLost: big(r.total_lost),
        ghostStreakBest: r.ghost_streak_best,
        lastSeq: r.last_seq,
        dirty: false,
      });
    }
    for (const r of levels) {
      this.levels.set(r.level as LevelName, {
        level: r.level as LevelName,
        index: r.level_index,
        intervalMs: r.scan_interval_seconds * 1000,
        acc: big(r.acc_rewards_per_share),
        aliveCount: r.alive_count,
        totalStaked: big(r.total_staked),
        nextScanAt: r.next_scan_at,
        currentScanId: r.current_scan_id,
        currentScanExecutedAt: r.current_scan_executed_at,
        lastScanFinalizedAt: r.last_scan_finalized_at,
        scansFinalized: r.scans_finalized,
        tracedCount: r.traced_count,
        emissionsTotal: big(r.emissions_total),
        burnedTotal: big(r.burned_total),
        distributedTotal: big(r.distributed_total),
        lastSeq: r.last_seq,
        dirty: false,
      });
    }
    this.network = {
      operatorsAth: n.operators_ath,
      lastBlockNumber: n.last_block_number,
      lastBlockAt: n.last_block_at,
      lastResetAt: n.last_reset_at,
      resets: n.resets,
      resetDeadline: n.reset_deadline,
      lastSeq: n.last_seq,
    };
  }

  level(name: LevelName, seq: number): Level {
    const level = this.levels.get(name);
    if (!level) throw new UnappliableEventError(`unknown level ${name}`);
    level.dirty = true;
    level.lastSeq = seq;
    return level;
  }

  user(address: string, seq: number, at: number): User {
    let user = this.users.get(address);
    if (!user) {
      user = {
        address,
        firstSeenAt: at,
        firstSeenSeq: seq,
        positionsCount: 0,
        totalStaked: 0n,
        totalExtracted: 0n,
        totalPrincipalExtracted: 0n,
        totalLost: 0n,
        ghostStreakBest: 0,
        lastSeq: seq,
        dirty: true,
      };
      this.users.set(address, user);
    }
    user.dirty = true;
    user.lastSeq = seq;
    return user;
  }

  live(address: string, what: string): Pos {
    const pos = this.active.get(address);
    if (!pos) throw new UnappliableEventError(`${what} for ${address}, who has no live position`);
    return pos;
  }

  touch(pos: Pos, seq: number): void {
    pos.lastSeq = seq;
    this.positions.set(pos.id, pos);
  }

  minute(at: number): Minute {
    const key = minuteStart(at);
    let m = this.minutes.get(key);
    if (!m) {
      m = { jackedIn: 0n, extracted: 0n, traced: 0n, burned: 0n };
      this.minutes.set(key, m);
    }
    return m;
  }

  record(
    pos: Pos,
    seq: number,
    kind: HistoryKind,
    at: number,
    tx: string | null,
    amount: bigint | null,
    rewards: bigint | null = null,
  ): void {
    this.history.push([
      pos.address,
      seq,
      pos.id,
      kind,
      pos.level,
      amount === null ? null : amount.toString(),
      rewards === null ? null : rewards.toString(),
      pos.amount.toString(),
      pos.ghostStreak,
      at,
      tx,
    ]);
  }

  /** Ends a position. `leaving` is what the level's total loses (GhostCore subtracts, saturating at 0). */
  close(pos: Pos, status: Status, seq: number, at: number, tx: string, leaving: bigint): Level {
    pos.status = status;
    pos.exitAt = at;
    pos.exitSeq = seq;
    pos.exitTx = tx;
    this.touch(pos, seq);
    this.active.delete(pos.address);
    const level = this.level(pos.level, seq);
    level.aliveCount -= 1;
    level.totalStaked = satSub(level.totalStaked, leaving);
    return level;
  }

  bumpAth(): void {
    let alive = 0;
    for (const l of this.levels.values()) alive += l.aliveCount;
    if (alive > this.network.operatorsAth) this.network.operatorsAth = alive;
  }

  /** GhostCore._extendResetTimer. */
  extendResetTimer(amount: bigint, at: number): void {
    const net = this.network;
    const deadline = net.resetDeadline ?? at + DAY_MS;
    if (amount >= 1000n * DATA) {
      net.resetDeadline = at + DAY_MS;
      return;
    }
    const hours = amount < 50n * DATA ? 1 : amount < 200n * DATA ? 4 : amount < 500n * DATA ? 8 : 16;
    net.resetDeadline = Math.min(Math.max(deadline, at + hours * HOUR_MS), at + DAY_MS);
  }

  /** Adds `amount` to a level's rewards, pro rata to its stakes (nothing when nobody is staked). */
  reward(level: Level, amount: bigint): void {
    if (level.totalStaked > 0n) level.acc += (amount * PRECISION) / level.totalStaked;
  }

  async apply(pm: ProjectedMessage): Promise<void> {
    const m = pm.message as Chain;
    const seq = pm.sequence;
    const at = m.block.timestamp;
    const txh = m.tx.hash;
    const net = this.network;
    if (net.lastBlockNumber === null || m.block.number >= net.lastBlockNumber) {
      net.lastBlockNumber = m.block.number;
      net.lastBlockAt = at;
    }
    net.lastSeq = seq;
    switch (m.name) {
      case 'JackedIn': {
        const { user, amount, level, newTotal } = m.args;
        if (this.active.has(user))
          throw new UnappliableEventError(`JackedIn for ${user}, who already has a live position`);
        const l = this.level(level, seq);
        const pos: Pos = {
          id: `${user}:${seq}`,
          address: user,
          level,
          status: 'active',
          amount: big(newTotal),
          entryAmount: big(amount),
          entryAt: at,
          entrySeq: seq,
          entryTx: txh,
          ghostStreak: 0,
          rewardsExtracted: null,
          amountLost: 0n,
          exitAt: null,
          exitSeq: null,
          exitTx: null,
          lastSeq: seq,
          rewardDebt: (big(newTotal) * l.acc) / PRECISION,
          storedRewards: 0n,
          isNew: true,
        };
        this.active.set(user, pos);
        this.touch(pos, seq);
        const u = this.user(user, seq, at);
        u.positionsCount += 1;
        u.totalStaked += big(amount);
        l.aliveCount += 1;
        l.totalStaked += big(amount);
        this.bumpAth();
        this.extendResetTimer(big(amount), at);
        this.minute(at).jackedIn += big(amount);
        this.record(pos, seq, 'JACK_IN', at, txh, big(amount));
        return;
      }
      case 'StakeAdded': {
        const { user, amount, newTotal } = m.args;
        const pos = this.live(user, 'StakeAdded');
        const l = this.level(pos.level, seq);
        // addStake forfeits pending rewards.
        pos.amount = big(newTotal);
        pos.rewardDebt = (pos.amount * l.acc) / PRECISION;
        pos.storedRewards = 0n;
        l.totalStaked += big(amount);
        this.touch(pos, seq);
        this.user(user, seq, at).totalStaked += big(amount);
        this.extendResetTimer(big(amount), at);
        this.minute(at).jackedIn += big(amount);
        this.record(pos, seq, 'STAKE_ADDED', at, txh, big(amount));
        return;
      }
      case 'Extracted': {
        const { user, amount, rewards } = m.args;
        const pos = this.live(user, 'Extracted');
        pos.rewardsExtracted = big(rewards);
        const l = this.close(pos, 'extracted', seq, at, txh, big(amount));
        if (l.aliveCount === 0) l.totalStaked = 0n;
        const u = this.user(user, seq, at);
        u.totalExtracted += big(rewards);
        u.totalPrincipalExtracted += big(amount);
        this.minute(at).extracted += big(amount);
        this.record(pos, seq, 'EXTRACTED', at, txh, big(amount), big(rewards));
        for (const b of this.boosts) if (b.address === user && b.removedSeq === null) b.removedSeq = seq;
        if (!this.removedBefore.has(user)) this.removedBefore.set(user, seq);
        return;
      }
      case 'DeathsSubmitted': {
        const l = this.level(m.args.level, seq);
        for (const victim of m.enrichment.victims) {
          const pos = this.live(victim.address, 'DeathsSubmitted');
          if (pos.level !== m.args.level) {
            throw new UnappliableEventError(
              `victim ${victim.address} is at ${pos.level}, not ${m.args.level}`,
            );
          }
          const lost = big(victim.amountLost);
          pos.amountLost += lost;
          this.close(pos, 'traced', seq, at, txh, lost);
          l.tracedCount += 1;
          this.user(victim.address, seq, at).totalLost += lost;
          this.minute(at).traced += lost;
          this.record(pos, seq, 'TRACED', at, txh, lost);
        }
        if (l.aliveCount === 0) l.totalStaked = 0n;
        return;
      }
      case 'PositionCulled': {
        const { victim, penaltyAmount, returnedAmount } = m.args;
        const pos = this.live(victim, 'PositionCulled');
        const lost = big(penaltyAmount);
        pos.amountLost += lost;
        const l = this.close(pos, 'culled', seq, at, txh, lost + big(returnedAmount));
        // 30% of the penalty is burned, the rest goes to the level's remaining stakers.
        if (lost > 0n) {
          const burned = (lost * CULL_BURN_BPS) / BPS;
          this.reward(l, lost - burned);
          l.burnedTotal += burned;
          this.minute(at).burned += burned;
        }
        this.user(victim, seq, at).totalLost += lost;
        this.record(pos, seq, 'CULLED', at, txh, lost);
        return;
      }
      case 'BoostApplied': {
        const { user, boostType, valueBps, expiry } = m.args;
        // GhostCore accepts a boost from a player whose position was traced or culled (it keeps its level;
        // only an extract clears it): a signature handed out while alive can be applied after the death. It
        // changes nothing shown here (a dead position has no death rate or yield), so there is nothing to
        // apply; refusing it would stop the projection on an event anyone can send. A boost from an address
        // that never had a position cannot be on chain: that is still refused.
        if (!this.active.has(user) && (this.users.get(user)?.positionsCount ?? 0) > 0) return;
        const pos = this.live(user, 'BoostApplied');
        this.boosts.push({
          row: [seq, user, pos.id, boostType, valueBps, expiry, at],
          address: user,
          removedSeq: null,
        });
        this.record(pos, seq, 'BOOST', at, txh, null);
        return;
      }
      case 'ScanExecuted': {
        const l = this.level(m.args.level, seq);
        l.currentScanId = m.args.scanId;
        l.currentScanExecutedAt = m.args.executedAt;
        return;
      }
      case 'ScanFinalized': {
        const l = this.level(m.args.level, seq);
        l.nextScanAt = m.args.finalizedAt + l.intervalMs;
        l.lastScanFinalizedAt = m.args.finalizedAt;
        l.currentScanExecutedAt = null;
        l.scansFinalized += 1;
        // Every alive position at the level gains a ghost streak: those loaded here, the rest in SQL.
        for (const pos of this.active.values()) {
          if (pos.level !== m.args.level) continue;
          pos.ghostStreak += 1;
          this.touch(pos, seq);
          // As the set-based path: the user changes only when the best streak does.
          if (pos.ghostStreak > (this.users.get(pos.address)?.ghostStreakBest ?? 0)) {
            this.user(pos.address, seq, at).ghostStreakBest = pos.ghostStreak;
          }
          this.record(pos, seq, 'SURVIVED', at, txh, null);
        }
        this.finalizes.push({ level: m.args.level, seq, at, tx: txh });
        return;
      }
      case 'SystemResetTriggered': {
        await this.survive();
        net.lastResetAt = at;
        net.resets += 1;
        net.resetDeadline = at + DAY_MS;
        // Each alive position is settled at the level's accumulator, then keeps 75% (floored); each level's
        // total keeps 75% of itself (floored once, as GhostCore does).
        for (const pos of this.active.values()) {
          const l = this.level(pos.level, seq);
          const gross = (pos.amount * l.acc) / PRECISION;
          if (gross > pos.rewardDebt) pos.storedRewards += gross - pos.rewardDebt;
          const kept = afterReset(pos.amount);
          const penalty = pos.amount - kept;
          pos.amount = kept;
          pos.amountLost += penalty;
          pos.rewardDebt = (kept * l.acc) / PRECISION;
          this.touch(pos, seq);
          this.user(pos.address, seq, at).totalLost += penalty;
          this.record(pos, seq, 'RESET_PENALTY', at, txh, penalty);
        }
        const levels = [...this.levels.values()];
        const accs = levels.map((l) => [l.level, l.acc.toString()]);
        await this.tx.query(sql.unsafe`
          WITH acc AS (
            SELECT * FROM ${sql.unnest(accs, ['text', 'numeric'])} AS a(level, acc)
          ), p AS (
            SELECT x.id, div(x.amount * 7500, 10000) AS kept, x.amount - div(x.amount * 7500, 10000) AS penalty,
                   GREATEST(div(x.amount * acc.acc, ${PRECISION.toString()}::numeric) - x.reward_debt, 0) AS accrued,
                   acc.acc
            FROM positions x JOIN acc ON acc.level = x.level
            WHERE x.status = 'active' AND NOT (x.address = ANY(${sql.array(this.loaded, 'text')}))
          ), s AS (
            UPDATE positions x SET amount = p.kept, amount_lost = x.amount_lost + p.penalty,
                   stored_rewards = x.stored_rewards + p.accrued,
                   reward_debt = div(p.kept * p.acc, ${PRECISION.toString()}::numeric), last_seq = ${seq}
            FROM p WHERE x.id = p.id
            RETURNING x.id, x.address, x.level, x.amount, x.ghost_streak, p.penalty
          ), h AS (
            INSERT INTO position_history (address, sequence, position_id, kind, level, amount, rewards,
                                          position_amount, ghost_streak, at, tx_hash)
            SELECT address, ${seq}, id, 'RESET_PENALTY', level, penalty, NULL, amount, ghost_streak,
                   ms_to_ts(${at}), ${txh}
            FROM s
          )
          UPDATE users u SET total_lost = u.total_lost + s.penalty, last_seq = ${seq}
          FROM s WHERE u.address = s.address`);
        for (const l of levels) {
          const kept = afterReset(l.totalStaked);
          if (kept !== l.totalStaked) {
            this.level(l.level, seq);
            l.totalStaked = kept;
          }
        }
        return;
      }
      case 'EmissionsAdded': {
        const l = this.level(m.args.level, seq);
        l.emissionsTotal += big(m.args.amount);
        this.reward(l, big(m.args.amount));
        return;
      }
      case 'CascadeDistributed': {
        const { sourceLevel, sameLevelAmount, upstreamAmount, burnAmount } = m.args;
        const source = this.level(sourceLevel, seq);
        source.burnedTotal += big(burnAmount);
        source.distributedTotal += big(sameLevelAmount) + big(upstreamAmount);
        this.minute(at).burned += big(burnAmount);
        // GhostCore._distributeCascade: the same-level share to the level's stakers (the event already shows
        // it moved upstream when nobody is left), the upstream share to the safer levels pro rata to their
        // stakes (burned when they have none).
        if (big(sameLevelAmount) > 0n) this.reward(source, big(sameLevelAmount));
        const upstream = [...this.levels.values()].filter((l) => l.index < source.index);
        const tvl = upstream.reduce((sum, l) => sum + l.totalStaked, 0n);
        if (tvl > 0n) {
          for (const l of upstream) {
            if (l.totalStaked === 0n) continue;
            const share = (big(upstreamAmount) * l.totalStaked) / tvl;
            this.level(l.level, seq);
            this.reward(l, share);
          }
        } else {
          this.minute(at).burned += big(upstreamAmount);
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * +1 ghost streak per finalized scan for every alive position of its level that the batch did not load
   * (nothing else in the batch touches those), with one SURVIVED history row per scan, in one statement.
   */
  async survive(): Promise<void> {
    if (!this.finalizes.length) return;
    const rows = this.finalizes.map((f) => [f.level, f.seq, f.at, f.tx]);
    this.finalizes = [];
    await this.tx.query(sql.unsafe`
      WITH f AS (
        SELECT * FROM ${sql.unnest(rows, ['text', 'int8', 'int8', 'text'])} AS f(level, seq, at, tx)
      ), k AS (
        SELECT level, count(*)::int AS n, max(seq) AS last FROM f GROUP BY level
      ), s AS (
        UPDATE positions p SET ghost_streak = p.ghost_streak + k.n, last_seq = k.last
        FROM k
        WHERE p.level = k.level AND p.status = 'active' AND NOT (p.address = ANY(${sql.array(this.loaded, 'text')}))
        RETURNING p.id, p.address, p.level, p.amount, p.ghost_streak AS streak, k.n, k.last
      ), h AS (
        INSERT INTO position_history (address, sequence, position_id, kind, level, amount, rewards,
                                      position_amount, ghost_streak, at, tx_hash)
        SELECT s.address, f.seq, s.id, 'SURVIVED', s.level, NULL, NULL, s.amount,
               s.streak - s.n + row_number() OVER (PARTITION BY s.id ORDER BY f.seq), ms_to_ts(f.at), f.tx
        FROM s JOIN f ON f.level = s.level
      )
      UPDATE users u SET ghost_streak_best = s.streak, last_seq = s.last
      FROM s WHERE u.address = s.address AND u.ghost_streak_best < s.streak`);
  }

  async flush(): Promise<void> {
    await this.survive();
    const { tx } = this;
    // Every table's write in one statement.
    const writes: FragmentSqlToken[] = [];
    // Rows that leave 'active' first: a new live row of the same player must not meet the old one in the
    // partial unique index.
    const positions = [...this.positions.values()].sort((a, b) => Number(a.isNew) - Number(b.isNew));
    if (positions.length) {
      const rows = positions.map((p) => [
        p.id,
        p.address,
        p.level,
        p.status,
        p.amount.toString(),
        p.entryAmount.toString(),
        p.entryAt,
        p.entrySeq,
        p.entryTx,
        p.ghostStreak,
        p.rewardsExtracted === null ? null : p.rewardsExtracted.toString(),
        p.amountLost.toString(),
        p.exitAt,
        p.exitSeq,
        p.exitTx,
        p.lastSeq,
        p.rewardDebt.toString(),
        p.storedRewards.toString(),
      ]);
      writes.push(sql.fragment`
        INSERT INTO positions AS p (id, address, level, status, amount, entry_amount, entry_at, entry_seq, entry_tx,
                                    ghost_streak, rewards_extracted, amount_lost, exit_at, exit_seq, exit_tx, last_seq,
                                    reward_debt, stored_rewards)
        SELECT id, address, level, status, amount, entry_amount, ms_to_ts(entry_at), entry_seq, entry_tx, ghost_streak,
               rewards_extracted, amount_lost, ms_to_ts(exit_at), exit_seq, exit_tx, last_seq, reward_debt, stored_rewards
        FROM ${sql.unnest(rows, ['text', 'text', 'text', 'text', 'numeric', 'numeric', 'int8', 'int8', 'text', 'int4', 'numeric', 'numeric', 'int8', 'int8', 'text', 'int8', 'numeric', 'numeric'])}
          AS x(id, address, level, status, amount, entry_amount, entry_at, entry_seq, entry_tx, ghost_streak,
               rewards_extracted, amount_lost, exit_at, exit_seq, exit_tx, last_seq, reward_debt, stored_rewards)
        ON CONFLICT (id) DO UPDATE SET
          status = excluded.status, amount = excluded.amount, ghost_streak = excluded.ghost_streak,
          rewards_extracted = excluded.rewards_extracted, amount_lost = excluded.amount_lost,
          exit_at = excluded.exit_at, exit_seq = excluded.exit_seq, exit_tx = excluded.exit_tx,
          last_seq = excluded.last_seq, reward_debt = excluded.reward_debt, stored_rewards = excluded.stored_rewards`);
    }
    const users = [...this.users.values()].filter((u) => u.dirty);
    if (users.length) {
      const rows = users.map((u) => [
        u.address,
        u.firstSeenAt,
        u.firstSeenSeq,
        u.positionsCount,
        u.totalStaked.toString(),
        u.totalExtracted.toString(),
        u.totalPrincipalExtracted.toString(),
        u.totalLost.toString(),
        u.ghostStreakBest,
        u.lastSeq,
      ]);
      writes.push(sql.fragment`
        INSERT INTO users AS u (address, first_seen_at, first_seen_seq, positions_count, total_staked, total_extracted,
                                total_principal_extracted, total_lost, ghost_streak_best, last_seq)
        SELECT address, ms_to_ts(first_seen_at), first_seen_seq, positions_count, total_staked, total_extracted,
               total_principal_extracted, total_lost, ghost_streak_best, last_seq
        FROM ${sql.unnest(rows, ['text', 'int8', 'int8', 'int4', 'numeric', 'numeric', 'numeric', 'numeric', 'int4', 'int8'])}
          AS x(address, first_seen_at, first_seen_seq, positions_count, total_staked, total_extracted,
               total_principal_extracted, total_lost, ghost_streak_best, last_seq)
        ON CONFLICT (address) DO UPDATE SET
          positions_count = excluded.positions_count, total_staked = excluded.total_staked,
          total_extracted = excluded.total_extracted, total_principal_extracted = excluded.total_principal_extracted,
          total_lost = excluded.total_lost, ghost_streak_best = excluded.ghost_streak_best, last_seq = excluded.last_seq`);
    }
    if (this.history.length) {
      writes.push(sql.fragment`
        INSERT INTO position_history (address, sequence, position_id, kind, level, amount, rewards, position_amount,
                                      ghost_streak, at, tx_hash)
        SELECT address, sequence, position_id, kind, level, amount, rewards, position_amount, ghost_streak,
               ms_to_ts(at), tx_hash
        FROM ${sql.unnest(this.history as never, ['text', 'int8', 'text', 'text', 'text', 'numeric', 'numeric', 'numeric', 'int4', 'int8', 'text'])}
          AS x(address, sequence, position_id, kind, level, amount, rewards, position_amount, ghost_streak, at, tx_hash)`);
    }
    if (this.removedBefore.size) {
      const rows = [...this.removedBefore].map(([address, seq]) => [address, seq]);
      // The ANY is the index condition: joined to the unnest alone, the planner scanned every boost still
      // present (thousands, growing with the game) for a handful of addresses.
      writes.push(sql.fragment`
        UPDATE boosts b SET removed_seq = x.seq
        FROM ${sql.unnest(rows, ['text', 'int8'])} AS x(address, seq)
        WHERE b.address = ANY(${sql.array([...this.removedBefore.keys()], 'text')})
          AND b.address = x.address AND b.removed_seq IS NULL AND b.sequence < x.seq`);
    }
    if (this.boosts.length) {
      const rows = this.boosts.map((b) => [...(b.row as unknown[]), b.removedSeq]);
      writes.push(sql.fragment`
        INSERT INTO boosts (sequence, address, position_id, boost_type, value_bps, expires_at, applied_at, removed_seq)
        SELECT sequence, address, position_id, boost_type, value_bps, ms_to_ts(expires_at), ms_to_ts(applied_at), removed_seq
        FROM ${sql.unnest(rows as never, ['int8', 'text', 'text', 'text', 'int4', 'int8', 'int8', 'int8'])}
          AS x(sequence, address, position_id, boost_type, value_bps, expires_at, applied_at, removed_seq)`);
    }
    const levels = [...this.levels.values()].filter((l) => l.dirty);
    if (levels.length) {
      const rows = levels.map((l) => [
        l.level,
        l.aliveCount,
        l.totalStaked.toString(),
        l.nextScanAt,
        l.currentScanId,
        l.currentScanExecutedAt,
        l.lastScanFinalizedAt,
        l.scansFinalized,
        l.tracedCount,
        l.emissionsTotal.toString(),
        l.burnedTotal.toString(),
        l.distributedTotal.toString(),
        l.lastSeq,
        l.acc.toString(),
      ]);
      writes.push(sql.fragment`
        UPDATE level_stats s SET alive_count = x.alive_count, total_staked = x.total_staked,
          next_scan_at = ms_to_ts(x.next_scan_at), current_scan_id = x.current_scan_id,
          current_scan_executed_at = ms_to_ts(x.current_scan_executed_at),
          last_scan_finalized_at = ms_to_ts(x.last_scan_finalized_at), scans_finalized = x.scans_finalized,
          traced_count = x.traced_count, emissions_total = x.emissions_total, burned_total = x.burned_total,
          distributed_total = x.distributed_total, last_seq = x.last_seq, acc_rewards_per_share = x.acc
        FROM ${sql.unnest(rows, ['text', 'int4', 'numeric', 'int8', 'numeric', 'int8', 'int8', 'int4', 'int4', 'numeric', 'numeric', 'numeric', 'int8', 'numeric'])}
          AS x(level, alive_count, total_staked, next_scan_at, current_scan_id, current_scan_executed_at,
               last_scan_finalized_at, scans_finalized, traced_count, emissions_total, burned_total,
               distributed_total, last_seq, acc)
        WHERE s.level = x.level`);
    }
    const n = this.network;
    const network = sql.fragment`
      UPDATE network_state SET operators_ath = ${n.operatorsAth}, last_block_number = ${n.lastBlockNumber},
        last_block_at = ms_to_ts(${n.lastBlockAt}::int8), last_reset_at = ms_to_ts(${n.lastResetAt}::int8),
        resets = ${n.resets}, reset_deadline = ms_to_ts(${n.resetDeadline}::int8), last_seq = ${n.lastSeq}`;
    if (this.minutes.size) {
      const rows = [...this.minutes].map(([minute, m]) => [
        minute,
        m.jackedIn.toString(),
        m.extracted.toString(),
        m.traced.toString(),
        m.burned.toString(),
      ]);
      writes.push(sql.fragment`
        INSERT INTO network_minutes AS m (minute, jacked_in, extracted, traced, burned)
        SELECT ms_to_ts(minute), jacked_in, extracted, traced, burned
        FROM ${sql.unnest(rows, ['int8', 'numeric', 'numeric', 'numeric', 'numeric'])}
          AS x(minute, jacked_in, extracted, traced, burned)
        ON CONFLICT (minute) DO UPDATE SET jacked_in = m.jacked_in + excluded.jacked_in,
          extracted = m.extracted + excluded.extracted, traced = m.traced + excluded.traced,
          burned = m.burned + excluded.burned`);
    }
    await writeAll(tx, [network, ...writes]);
  }
}

export const gameProjection: Projection = {
  name: 'game',
  codeVersion: 3,
  ddl: 'projection_ddl_game_v3',
  appendOnly: { position_history: 'sequence' },
  accepts: new Set([
    'JackedIn',
    'StakeAdded',
    'Extracted',
    'DeathsSubmitted',
    'PositionCulled',
    'BoostApplied',
    'ScanExecuted',
    'ScanFinalized',
    'SystemResetTriggered',
    'EmissionsAdded',
    'CascadeDistributed',
  ]),
  async apply(tx, messages) {
    const batch = new GameBatch(tx);
    await batch.load(touchedPlayers(messages));
    for (const pm of messages) await batch.apply(pm);
    await batch.flush();
  },
};
