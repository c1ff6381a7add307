import { sql } from '@ghostnet/db';
import type { LevelName } from '@ghostnet/events';
import type { DatabaseTransactionConnection, FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { type Projection, UnappliableEventError } from '../runtime/types.ts';
import { isoWeekStart, utcDay } from '../time.ts';
import { big, type Chain, resetPenalty, touchedPlayers, writeAll } from './common.ts';

/**
 * `leaderboards`: per player and period (UTC day, ISO week, all time): rewards extracted, best ghost streak
 * reached, pnl (rewards − principal lost). Each value keeps the sequence at which it was reached: ties go to
 * whoever got there first. The periods come from the block time of the event.
 */

interface Member {
  address: string;
  level: LevelName;
  amount: bigint;
  alive: boolean;
  streak: number;
  dirty: boolean;
}

interface Agg {
  extracted: bigint;
  extractedSeq: number | null;
  streak: number;
  streakSeq: number | null;
  pnl: bigint;
  pnlSeq: number | null;
}

const MemberRow = z.object({
  address: z.string(),
  level: z.string(),
  amount: z.string(),
  alive: z.boolean(),
  streak: z.number(),
});

const PERIODS = ['daily', 'weekly', 'all'] as const;
type Period = (typeof PERIODS)[number];

function periodKey(period: Period, at: number): string {
  return period === 'daily' ? utcDay(at) : period === 'weekly' ? isoWeekStart(at) : '';
}

const UPSERT_SET = sql.fragment`
  extracted = t.extracted + excluded.extracted,
  extracted_seq = COALESCE(excluded.extracted_seq, t.extracted_seq),
  pnl = t.pnl + excluded.pnl,
  pnl_seq = COALESCE(excluded.pnl_seq, t.pnl_seq),
  streak = GREATEST(t.streak, excluded.streak),
  streak_seq = CASE WHEN excluded.streak > t.streak THEN excluded.streak_seq ELSE t.streak_seq END`;

class LeaderboardBatch {
  readonly members = new Map<string, Member>();
  readonly aggs = new Map<Period, Map<string, Agg>>(PERIODS.map((p) => [p, new Map()]));
  loaded: string[] = [];
  finalizes: { level: LevelName; seq: number; day: string; week: string }[] = [];

  constructor(readonly tx: DatabaseTransactionConnection) {}

  /**
   * The streaks of players the batch did not load, for every scan finalized in it, in one statement: each
   * finalize raises the streak by one; per period the best is the last one reached in it.
   */
  async survive(): Promise<void> {
    if (!this.finalizes.length) return;
    const rows = this.finalizes.map((f) => [f.level, f.seq, f.day, f.week]);
    this.finalizes = [];
    await this.tx.query(sql.unsafe`
      WITH f AS (
        SELECT * FROM ${sql.unnest(rows, ['text', 'int8', 'text', 'text'])} AS f(level, seq, day, week)
      ), k AS (
        SELECT level, count(*)::int AS n FROM f GROUP BY level
      ), s AS (
        UPDATE _members m SET streak = m.streak + k.n FROM k
        WHERE m.level = k.level AND m.alive AND NOT (m.address = ANY(${sql.array(this.loaded, 'text')}))
        RETURNING m.address, m.level, m.streak AS final, k.n
      ), r AS (
        SELECT s.address, f.day::date AS day, f.week::date AS week, f.seq,
               (s.final - s.n + row_number() OVER (PARTITION BY s.address ORDER BY f.seq))::int AS streak
        FROM s JOIN f ON f.level = s.level
      ), d AS (
        INSERT INTO leaderboard_daily AS t (day, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
        SELECT DISTINCT ON (day, address) day, address, 0, NULL, streak, seq, 0, NULL FROM r
        ORDER BY day, address, streak DESC
        ON CONFLICT (day, address) DO UPDATE SET ${UPSERT_SET}
      ), w AS (
        INSERT INTO leaderboard_weekly AS t (week, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
        SELECT DISTINCT ON (week, address) week, address, 0, NULL, streak, seq, 0, NULL FROM r
        ORDER BY week, address, streak DESC
        ON CONFLICT (week, address) DO UPDATE SET ${UPSERT_SET}
      )
      INSERT INTO leaderboard_all AS t (address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
      SELECT DISTINCT ON (address) address, 0, NULL, streak, seq, 0, NULL FROM r
      ORDER BY address, streak DESC
      ON CONFLICT (address) DO UPDATE SET ${UPSERT_SET}`);
  }

  async load(addresses: string[]): Promise<void> {
    this.loaded = addresses;
    if (!addresses.length) return;
    const rows = await this.tx.any(sql.type(MemberRow)`
      SELECT address, level, amount, alive, streak FROM _members WHERE address = ANY(${sql.array(addresses, 'text')})`);
    for (const r of rows) {
      this.members.set(r.address, {
        address: r.address,
        level: r.level as LevelName,
        amount: big(r.amount),
        alive: r.alive,
        streak: r.streak,
        dirty: false,
      });
    }
  }

  agg(period: Period, at: number, address: string): Agg {
    const key = `${periodKey(period, at)}|${address}`;
    const map = this.aggs.get(period)!;
    let agg = map.get(key);
    if (!agg) {
      agg = { extracted: 0n, extractedSeq: null, streak: 0, streakSeq: null, pnl: 0n, pnlSeq: null };
      map.set(key, agg);
    }
    return agg;
  }

  addExtracted(address: string, at: number, seq: number, rewards: bigint): void {
    for (const p of PERIODS) {
      const a = this.agg(p, at, address);
      if (rewards !== 0n) {
        a.extracted += rewards;
        a.extractedSeq = seq;
      }
    }
    this.addPnl(address, at, seq, rewards);
  }

  addPnl(address: string, at: number, seq: number, delta: bigint): void {
    for (const p of PERIODS) {
      const a = this.agg(p, at, address);
      a.pnl += delta;
      // Only a change moves the tie-break: the same result however the stream is cut into batches.
      if (delta !== 0n) a.pnlSeq = seq;
    }
  }

  reachStreak(address: string, at: number, seq: number, streak: number): void {
    for (const p of PERIODS) {
      const a = this.agg(p, at, address);
      if (streak > a.streak) {
        a.streak = streak;
        a.streakSeq = seq;
      }
    }
  }

  member(address: string, what: string): Member {
    const m = this.members.get(address);
    if (!m?.alive) throw new UnappliableEventError(`${what} for ${address}, who has no live position`);
    m.dirty = true;
    return m;
  }

  lose(address: string, at: number, seq: number, lost: bigint, what: string): void {
    const m = this.member(address, what);
    m.alive = false;
    m.amount = 0n;
    this.addPnl(address, at, seq, -lost);
  }

  async apply(seq: number, m: Chain): Promise<void> {
    const at = m.block.timestamp;
    switch (m.name) {
      case 'JackedIn': {
        const existing = this.members.get(m.args.user);
        if (existing?.alive)
          throw new UnappliableEventError(`JackedIn for ${m.args.user}, who has a live position`);
        this.members.set(m.args.user, {
          address: m.args.user,
          level: m.args.level,
          amount: big(m.args.newTotal),
          alive: true,
          streak: 0,
          dirty: true,
        });
        return;
      }
      case 'StakeAdded':
        this.member(m.args.user, 'StakeAdded').amount = big(m.args.newTotal);
        return;
      case 'Extracted': {
        const member = this.member(m.args.user, 'Extracted');
        member.alive = false;
        member.amount = 0n;
        this.addExtracted(m.args.user, at, seq, big(m.args.rewards));
        return;
      }
      case 'DeathsSubmitted':
        for (const v of m.enrichment.victims)
          this.lose(v.address, at, seq, big(v.amountLost), 'DeathsSubmitted');
        return;
      case 'PositionCulled':
        this.lose(m.args.victim, at, seq, big(m.args.penaltyAmount), 'PositionCulled');
        return;
      case 'ScanFinalized': {
        const level = m.args.level;
        for (const member of this.members.values()) {
          if (!member.alive || member.level !== level) continue;
          member.streak += 1;
          member.dirty = true;
          this.reachStreak(member.address, at, seq, member.streak);
        }
        this.finalizes.push({ level, seq, day: utcDay(at), week: isoWeekStart(at) });
        return;
      }
      case 'SystemResetTriggered': {
        await this.survive();
        for (const member of this.members.values()) {
          if (!member.alive) continue;
          const penalty = resetPenalty(member.amount);
          member.amount -= penalty;
          member.dirty = true;
          if (penalty > 0n) this.addPnl(member.address, at, seq, -penalty);
        }
        await this.tx.query(sql.unsafe`
          WITH p AS (
            SELECT address, amount - div(amount * 7500, 10000) AS penalty FROM _members
            WHERE alive AND NOT (address = ANY(${sql.array(this.loaded, 'text')}))
          ), s AS (
            UPDATE _members x SET amount = x.amount - p.penalty FROM p
            WHERE x.address = p.address AND p.penalty > 0
            RETURNING x.address, p.penalty
          ), d AS (
            INSERT INTO leaderboard_daily AS t (day, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
            SELECT ${utcDay(at)}::date, address, 0, NULL, 0, NULL, -penalty, ${seq} FROM s
            ON CONFLICT (day, address) DO UPDATE SET ${UPSERT_SET}
          ), w AS (
            INSERT INTO leaderboard_weekly AS t (week, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
            SELECT ${isoWeekStart(at)}::date, address, 0, NULL, 0, NULL, -penalty, ${seq} FROM s
            ON CONFLICT (week, address) DO UPDATE SET ${UPSERT_SET}
          )
          INSERT INTO leaderboard_all AS t (address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
          SELECT address, 0, NULL, 0, NULL, -penalty, ${seq} FROM s
          ON CONFLICT (address) DO UPDATE SET ${UPSERT_SET}`);
        return;
      }
      default:
        return;
    }
  }

  async flush(): Promise<void> {
    await this.survive();
    // Members and the three periods in one statement.
    const writes: FragmentSqlToken[] = [];
    const members = [...this.members.values()].filter((m) => m.dirty);
    if (members.length) {
      const rows = members.map((m) => [m.address, m.level, m.amount.toString(), m.alive, m.streak]);
      writes.push(sql.fragment`
        INSERT INTO _members AS t (address, level, amount, alive, streak)
        SELECT * FROM ${sql.unnest(rows, ['text', 'text', 'numeric', 'bool', 'int4'])} AS x(address, level, amount, alive, streak)
        ON CONFLICT (address) DO UPDATE SET level = excluded.level, amount = excluded.amount, alive = excluded.alive,
          streak = excluded.streak`);
    }
    for (const period of PERIODS) {
      const map = this.aggs.get(period)!;
      if (!map.size) continue;
      const rows = [...map].map(([key, a]) => {
        const [pk, address] = key.split('|') as [string, string];
        return [
          pk,
          address,
          a.extracted.toString(),
          a.extractedSeq,
          a.streak,
          a.streakSeq,
          a.pnl.toString(),
          a.pnlSeq,
        ];
      });
      const types = ['text', 'text', 'numeric', 'int8', 'int4', 'int8', 'numeric', 'int8'] as const;
      const source = sql.fragment`${sql.unnest(rows, [...types])} AS x(pk, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)`;
      if (period === 'all') {
        writes.push(sql.fragment`
          INSERT INTO leaderboard_all AS t (address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
          SELECT address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq FROM ${source}
          ON CONFLICT (address) DO UPDATE SET ${UPSERT_SET}`);
      } else {
        const table = sql.identifier([`leaderboard_${period}`]);
        const column = sql.identifier([period === 'daily' ? 'day' : 'week']);
        writes.push(sql.fragment`
          INSERT INTO ${table} AS t (${column}, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq)
          SELECT pk::date, address, extracted, extracted_seq, streak, streak_seq, pnl, pnl_seq FROM ${source}
          ON CONFLICT (${column}, address) DO UPDATE SET ${UPSERT_SET}`);
      }
    }
    await writeAll(this.tx, writes);
  }
}

export const leaderboardsProjection: Projection = {
  name: 'leaderboards',
  codeVersion: 1,
  ddl: 'projection_ddl_leaderboards_v1',
  accepts: new Set([
    'JackedIn',
    'StakeAdded',
    'Extracted',
    'DeathsSubmitted',
    'PositionCulled',
    'ScanFinalized',
    'SystemResetTriggered',
  ]),
  async apply(tx, messages) {
    const batch = new LeaderboardBatch(tx);
    await batch.load(touchedPlayers(messages));
    for (const pm of messages) await batch.apply(pm.sequence, pm.message as Chain);
    await batch.flush();
  },
};
