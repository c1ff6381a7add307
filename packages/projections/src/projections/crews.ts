import { sql } from '@ghostnet/db';
import { z } from 'zod';
import type { Projection } from '../runtime/types.ts';
import { isoWeekStart } from '../time.ts';
import { big, type Chain, resetPenalty, touchedPlayers } from './common.ts';

/**
 * `crews`: membership from the API's CrewEvent messages (CREATED puts the founder in), and what the crew
 * ranking needs from the chain: each player's live stake, and rewards extracted by members while members.
 * Total staked per crew is summed at read time (≤ 50 members per crew).
 */

interface Player {
  amount: bigint;
  alive: boolean;
  dirty: boolean;
}

interface Crew {
  crewId: string;
  name: string;
  createdSeq: number;
  dissolvedSeq: number | null;
  dirty: boolean;
}

const PlayerRow = z.object({ address: z.string(), amount: z.string(), alive: z.boolean() });
const RosterRow = z.object({ address: z.string(), crew_id: z.string(), joined_seq: z.number() });
const CrewRow = z.object({
  crew_id: z.string(),
  name: z.string(),
  created_seq: z.number(),
  dissolved_seq: z.number().nullable(),
});

export const crewsProjection: Projection = {
  name: 'crews',
  codeVersion: 1,
  ddl: 'projection_ddl_crews_v1',
  accepts: new Set([
    'CrewEvent',
    'JackedIn',
    'StakeAdded',
    'Extracted',
    'DeathsSubmitted',
    'PositionCulled',
    'SystemResetTriggered',
  ]),
  async apply(tx, messages) {
    const addresses = touchedPlayers(messages);
    const crewIds = new Set<string>();
    for (const { message } of messages)
      if (message.kind === 'app' && message.name === 'CrewEvent') crewIds.add(message.args.crewId);

    const players = new Map<string, Player>();
    const roster = new Map<string, { crewId: string; joinedSeq: number } | null>();
    const crews = new Map<string, Crew>();
    if (addresses.length) {
      const list = sql.array(addresses, 'text');
      for (const r of await tx.any(
        sql.type(PlayerRow)`SELECT address, amount, alive FROM _players WHERE address = ANY(${list})`,
      )) {
        players.set(r.address, { amount: big(r.amount), alive: r.alive, dirty: false });
      }
      for (const r of await tx.any(
        sql.type(
          RosterRow,
        )`SELECT address, crew_id, joined_seq FROM crew_roster WHERE address = ANY(${list})`,
      )) {
        roster.set(r.address, { crewId: r.crew_id, joinedSeq: r.joined_seq });
        crewIds.add(r.crew_id);
      }
    }
    if (crewIds.size) {
      for (const r of await tx.any(sql.type(CrewRow)`
        SELECT crew_id, name, created_seq, dissolved_seq FROM crew_summary WHERE crew_id = ANY(${sql.array([...crewIds], 'text')})`)) {
        crews.set(r.crew_id, {
          crewId: r.crew_id,
          name: r.name,
          createdSeq: r.created_seq,
          dissolvedSeq: r.dissolved_seq,
          dirty: false,
        });
      }
    }
    const touchedRoster = new Set<string>();
    const dissolved: { crewId: string; seq: number }[] = [];
    const weekly = new Map<string, bigint>();
    const player = (address: string): Player => {
      let p = players.get(address);
      if (!p) {
        p = { amount: 0n, alive: false, dirty: true };
        players.set(address, p);
      }
      p.dirty = true;
      return p;
    };
    const setRoster = (address: string, value: { crewId: string; joinedSeq: number } | null) => {
      roster.set(address, value);
      touchedRoster.add(address);
    };

    for (const { sequence, message } of messages) {
      if (message.kind === 'app') {
        if (message.name !== 'CrewEvent') continue;
        const { crewId, crewName, eventType, address } = message.args;
        let crew = crews.get(crewId);
        if (!crew) {
          crew = { crewId, name: crewName, createdSeq: sequence, dissolvedSeq: null, dirty: true };
          crews.set(crewId, crew);
        }
        crew.name = crewName;
        crew.dirty = true;
        switch (eventType) {
          case 'CREATED':
          case 'JOINED':
            if (roster.get(address)?.crewId !== crewId) setRoster(address, { crewId, joinedSeq: sequence });
            break;
          case 'LEFT':
            if (roster.get(address)?.crewId === crewId) setRoster(address, null);
            break;
          case 'DISSOLVED':
            crew.dissolvedSeq = sequence;
            for (const [a, r] of roster) if (r?.crewId === crewId) setRoster(a, null);
            dissolved.push({ crewId, seq: sequence });
            break;
          case 'LEADER_CHANGED':
            break;
        }
        continue;
      }
      const m = message as Chain;
      switch (m.name) {
        case 'JackedIn': {
          const p = player(m.args.user);
          p.amount = big(m.args.newTotal);
          p.alive = true;
          break;
        }
        case 'StakeAdded':
          player(m.args.user).amount = big(m.args.newTotal);
          break;
        case 'Extracted': {
          const p = player(m.args.user);
          p.amount = 0n;
          p.alive = false;
          const member = roster.get(m.args.user);
          if (member) {
            const key = `${member.crewId}|${isoWeekStart(m.block.timestamp)}`;
            weekly.set(key, (weekly.get(key) ?? 0n) + big(m.args.rewards));
          }
          break;
        }
        case 'DeathsSubmitted':
          for (const v of m.enrichment.victims) {
            const p = player(v.address);
            p.amount = 0n;
            p.alive = false;
          }
          break;
        case 'PositionCulled': {
          const p = player(m.args.victim);
          p.amount = 0n;
          p.alive = false;
          break;
        }
        case 'SystemResetTriggered':
          for (const p of players.values()) {
            if (!p.alive) continue;
            p.amount -= resetPenalty(p.amount);
            p.dirty = true;
          }
          await tx.query(sql.unsafe`
            UPDATE _players SET amount = div(amount * 7500, 10000)
            WHERE alive AND NOT (address = ANY(${sql.array(addresses, 'text')}))`);
          break;
        default:
          break;
      }
    }

    // A dissolved crew's members not loaded in this batch leave with it.
    for (const d of dissolved) {
      const keep = [...touchedRoster].filter((a) => roster.get(a)?.crewId === d.crewId);
      await tx.query(sql.unsafe`
        DELETE FROM crew_roster WHERE crew_id = ${d.crewId} AND NOT (address = ANY(${sql.array(keep, 'text')}))`);
    }
    const dirtyPlayers = [...players].filter(([, p]) => p.dirty);
    if (dirtyPlayers.length) {
      const rows = dirtyPlayers.map(([a, p]) => [a, p.amount.toString(), p.alive]);
      await tx.query(sql.unsafe`
        INSERT INTO _players AS t (address, amount, alive)
        SELECT * FROM ${sql.unnest(rows, ['text', 'numeric', 'bool'])} AS x(address, amount, alive)
        ON CONFLICT (address) DO UPDATE SET amount = excluded.amount, alive = excluded.alive`);
    }
    if (touchedRoster.size) {
      const gone = [...touchedRoster].filter((a) => !roster.get(a));
      const present = [...touchedRoster].flatMap((a) => {
        const r = roster.get(a);
        return r ? [[a, r.crewId, r.joinedSeq]] : [];
      });
      if (gone.length)
        await tx.query(sql.unsafe`DELETE FROM crew_roster WHERE address = ANY(${sql.array(gone, 'text')})`);
      if (present.length) {
        await tx.query(sql.unsafe`
          INSERT INTO crew_roster AS t (address, crew_id, joined_seq)
          SELECT * FROM ${sql.unnest(present, ['text', 'text', 'int8'])} AS x(address, crew_id, joined_seq)
          ON CONFLICT (address) DO UPDATE SET crew_id = excluded.crew_id, joined_seq = excluded.joined_seq`);
      }
    }
    const dirtyCrews = [...crews.values()].filter((c) => c.dirty);
    if (dirtyCrews.length) {
      const rows = dirtyCrews.map((c) => [c.crewId, c.name, c.createdSeq, c.dissolvedSeq]);
      await tx.query(sql.unsafe`
        INSERT INTO crew_summary AS t (crew_id, name, member_count, created_seq, dissolved_seq)
        SELECT crew_id, name, 0, created_seq, dissolved_seq
        FROM ${sql.unnest(rows, ['text', 'text', 'int8', 'int8'])} AS x(crew_id, name, created_seq, dissolved_seq)
        ON CONFLICT (crew_id) DO UPDATE SET name = excluded.name, dissolved_seq = excluded.dissolved_seq`);
    }
    const countCrews = new Set<string>(dirtyCrews.map((c) => c.crewId));
    if (countCrews.size) {
      await tx.query(sql.unsafe`
        UPDATE crew_summary s SET member_count = (SELECT count(*) FROM crew_roster r WHERE r.crew_id = s.crew_id)
        WHERE s.crew_id = ANY(${sql.array([...countCrews], 'text')})`);
    }
    if (weekly.size) {
      const rows = [...weekly].map(([key, amount]) => {
        const [crewId, week] = key.split('|') as [string, string];
        return [crewId, week, amount.toString()];
      });
      await tx.query(sql.unsafe`
        INSERT INTO crew_weekly AS t (crew_id, week, extracted)
        SELECT crew_id, week::date, extracted FROM ${sql.unnest(rows, ['text', 'text', 'numeric'])} AS x(crew_id, week, extracted)
        ON CONFLICT (crew_id, week) DO UPDATE SET extracted = t.extracted + excluded.extracted`);
    }
  },
};
