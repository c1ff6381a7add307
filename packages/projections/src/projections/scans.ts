import { sql } from '@ghostnet/db';
import type { LevelName } from '@ghostnet/events';
import { z } from 'zod';
import { type Projection, UnappliableEventError } from '../runtime/types.ts';
import type { Chain } from './common.ts';

interface Scan {
  scanId: string;
  level: LevelName;
  status: 'executed' | 'finalized';
  seed: string;
  executedAt: number;
  executedSeq: number;
  victims: number;
  deathCount: number | null;
  totalDead: string | null;
  survivors: number | null;
  finalizedAt: number | null;
  finalizedSeq: number | null;
  cascade: [string, string, string, string] | null;
}

const ScanRow = z.object({
  scan_id: z.string(),
  level: z.string(),
  status: z.enum(['executed', 'finalized']),
  seed: z.string(),
  executed_at: z.number(),
  executed_seq: z.number(),
  victims: z.number(),
  death_count: z.number().nullable(),
  total_dead: z.string().nullable(),
  survivors: z.number().nullable(),
  finalized_at: z.number().nullable(),
  finalized_seq: z.number().nullable(),
  cascade_same_level: z.string().nullable(),
  cascade_upstream: z.string().nullable(),
  cascade_burned: z.string().nullable(),
  cascade_protocol: z.string().nullable(),
});

const SCAN_EVENTS = ['ScanExecuted', 'DeathsSubmitted', 'CascadeDistributed', 'ScanFinalized'] as const;

function count(value: string): number {
  const n = BigInt(value);
  return n > 2_147_483_647n ? 2_147_483_647 : Number(n);
}

/** `scans`: every trace scan (seed, victims, deaths, survivors, cascade) and its victims. */
export const scansProjection: Projection = {
  name: 'scans',
  codeVersion: 1,
  ddl: 'projection_ddl_scans_v1',
  appendOnly: { scan_victims: 'sequence' },
  accepts: new Set(SCAN_EVENTS),
  async apply(tx, messages) {
    const ids = new Set<string>();
    for (const { message } of messages) {
      const m = message as Chain;
      if (m.name === 'DeathsSubmitted' || m.name === 'ScanFinalized') ids.add(m.args.scanId);
    }
    // Scans named by the batch, and the open ones (a cascade names only its level).
    const rows = await tx.any(sql.type(ScanRow)`
      SELECT scan_id::text, level, status, seed::text, executed_at, executed_seq, victims, death_count,
             total_dead::text, survivors, finalized_at, finalized_seq, cascade_same_level::text,
             cascade_upstream::text, cascade_burned::text, cascade_protocol::text
      FROM scans WHERE scan_id = ANY(${sql.array([...ids], 'numeric')}) OR status = 'executed'`);
    const scans = new Map<string, Scan>();
    for (const r of rows) {
      scans.set(r.scan_id, {
        scanId: r.scan_id,
        level: r.level as LevelName,
        status: r.status,
        seed: r.seed,
        executedAt: r.executed_at,
        executedSeq: r.executed_seq,
        victims: r.victims,
        deathCount: r.death_count,
        totalDead: r.total_dead,
        survivors: r.survivors,
        finalizedAt: r.finalized_at,
        finalizedSeq: r.finalized_seq,
        cascade:
          r.cascade_same_level === null
            ? null
            : [
                r.cascade_same_level,
                r.cascade_upstream ?? '0',
                r.cascade_burned ?? '0',
                r.cascade_protocol ?? '0',
              ],
      });
    }
    const dirty = new Set<Scan>();
    const victims: unknown[][] = [];
    const known = (scanId: string, what: string) => {
      const scan = scans.get(scanId);
      if (!scan) throw new UnappliableEventError(`${what} for scan ${scanId}, which was never executed`);
      return scan;
    };
    for (const { sequence, message } of messages) {
      const m = message as Chain;
      switch (m.name) {
        case 'ScanExecuted': {
          const scan: Scan = {
            scanId: m.args.scanId,
            level: m.args.level,
            status: 'executed',
            seed: m.args.seed,
            executedAt: m.args.executedAt,
            executedSeq: sequence,
            victims: 0,
            deathCount: null,
            totalDead: null,
            survivors: null,
            finalizedAt: null,
            finalizedSeq: null,
            cascade: null,
          };
          if (scans.has(scan.scanId)) throw new UnappliableEventError(`scan ${scan.scanId} executed twice`);
          scans.set(scan.scanId, scan);
          dirty.add(scan);
          break;
        }
        case 'DeathsSubmitted': {
          const scan = known(m.args.scanId, 'DeathsSubmitted');
          scan.victims += m.enrichment.victims.length;
          dirty.add(scan);
          for (const v of m.enrichment.victims) {
            victims.push([
              scan.scanId,
              v.address,
              m.args.level,
              v.amountLost,
              sequence,
              m.tx.hash,
              m.args.submitter,
              m.block.timestamp,
            ]);
          }
          break;
        }
        case 'CascadeDistributed': {
          // Emitted by finalizeScan just before ScanFinalized: it belongs to the level's open scan.
          const open = [...scans.values()].filter(
            (s) => s.level === m.args.sourceLevel && s.status === 'executed',
          );
          const scan = open.sort((a, b) => (BigInt(b.scanId) > BigInt(a.scanId) ? 1 : -1))[0];
          if (!scan) break;
          const { sameLevelAmount, upstreamAmount, burnAmount, protocolAmount } = m.args;
          scan.cascade = [sameLevelAmount, upstreamAmount, burnAmount, protocolAmount];
          dirty.add(scan);
          break;
        }
        case 'ScanFinalized': {
          const scan = known(m.args.scanId, 'ScanFinalized');
          scan.status = 'finalized';
          scan.deathCount = count(m.args.deathCount);
          scan.totalDead = m.args.totalDead;
          scan.survivors = count(m.enrichment.survivors);
          scan.finalizedAt = m.args.finalizedAt;
          scan.finalizedSeq = sequence;
          dirty.add(scan);
          break;
        }
        default:
          break;
      }
    }
    if (dirty.size) {
      const rowsOut = [...dirty].map((s) => [
        s.scanId,
        s.level,
        s.status,
        s.seed,
        s.executedAt,
        s.executedSeq,
        s.victims,
        s.deathCount,
        s.totalDead,
        s.survivors,
        s.finalizedAt,
        s.finalizedSeq,
        s.cascade?.[0] ?? null,
        s.cascade?.[1] ?? null,
        s.cascade?.[2] ?? null,
        s.cascade?.[3] ?? null,
      ]);
      await tx.query(sql.unsafe`
        INSERT INTO scans AS s (scan_id, level, status, seed, executed_at, executed_seq, victims, death_count, total_dead,
                                survivors, finalized_at, finalized_seq, cascade_same_level, cascade_upstream,
                                cascade_burned, cascade_protocol)
        SELECT scan_id, level, status, seed, ms_to_ts(executed_at), executed_seq, victims, death_count, total_dead,
               survivors, ms_to_ts(finalized_at), finalized_seq, c1, c2, c3, c4
        FROM ${sql.unnest(rowsOut, ['numeric', 'text', 'text', 'numeric', 'int8', 'int8', 'int4', 'int4', 'numeric', 'int4', 'int8', 'int8', 'numeric', 'numeric', 'numeric', 'numeric'])}
          AS x(scan_id, level, status, seed, executed_at, executed_seq, victims, death_count, total_dead, survivors,
               finalized_at, finalized_seq, c1, c2, c3, c4)
        ON CONFLICT (scan_id) DO UPDATE SET status = excluded.status, victims = excluded.victims,
          death_count = excluded.death_count, total_dead = excluded.total_dead, survivors = excluded.survivors,
          finalized_at = excluded.finalized_at, finalized_seq = excluded.finalized_seq,
          cascade_same_level = excluded.cascade_same_level, cascade_upstream = excluded.cascade_upstream,
          cascade_burned = excluded.cascade_burned, cascade_protocol = excluded.cascade_protocol`);
    }
    if (victims.length) {
      await tx.query(sql.unsafe`
        INSERT INTO scan_victims (scan_id, address, level, amount_lost, sequence, tx_hash, submitter, at)
        SELECT scan_id, address, level, amount_lost, sequence, tx_hash, submitter, ms_to_ts(at)
        FROM ${sql.unnest(victims as never, ['numeric', 'text', 'text', 'numeric', 'int8', 'text', 'text', 'int8'])}
          AS x(scan_id, address, level, amount_lost, sequence, tx_hash, submitter, at)`);
    }
  },
};
