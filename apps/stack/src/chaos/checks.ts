import { createDatabasePool, migrate } from '@ghostnet/db';
import { DEFAULT_FEED_OPTIONS, EVENT_PLANS, toFeedEvents } from '@ghostnet/events';
import { createLogger } from '@ghostnet/logger';
import { ALL_PROJECTIONS, ProjectionRunner } from '@ghostnet/projections';
import { dumpAll } from '@ghostnet/projections/testing';
import { canonicalChainEvents, createTestDatabase, type Stored } from '@ghostnet/test';
import { z } from 'zod';
import type { ClientFleet, Segment } from './clients.ts';
import { STREAM_NAME, SUBJECT_PREFIX } from './system.ts';

/** How two id lists differ: `lost` expected but absent, `extra` present but not expected, `doubled` repeats. */
export interface Difference {
  expected: number;
  actual: number;
  lost: string[];
  extra: string[];
  doubled: string[];
  /** Same ids once each, but not in the expected order. */
  outOfOrder: boolean;
}

export function compareIds(expected: readonly string[], actual: readonly string[]): Difference {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  for (const id of actual) seen.set(id, (seen.get(id) ?? 0) + 1);
  const lost = expected.filter((id) => !seen.has(id));
  const extra = [...seen.keys()].filter((id) => !want.has(id));
  const doubled = [...seen.entries()].filter(([, n]) => n > 1).map(([id]) => id);
  const first = new Set<string>();
  const once = actual.filter((id) => want.has(id) && !first.has(id) && first.add(id));
  const inOrder = expected.filter((id) => seen.has(id));
  const outOfOrder = once.length === inOrder.length && once.some((id, i) => id !== inOrder[i]);
  return { expected: expected.length, actual: actual.length, lost, extra, doubled, outOfOrder };
}

export function isSame(d: Difference): boolean {
  return d.lost.length + d.extra.length + d.doubled.length === 0 && !d.outOfOrder;
}

const RpcLogs = z.object({
  result: z.array(z.object({ blockHash: z.string(), logIndex: z.string() })),
});

/** Every game log of GhostCore/TraceScan from the deploy block, straight from the node, as envelope ids. */
export async function chainLogIds(
  rpcUrl: string,
  chainId: number,
  addresses: { GhostCore: string; TraceScan: string },
  fromBlock: number,
): Promise<string[]> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_getLogs',
      params: [
        {
          address: [addresses.GhostCore, addresses.TraceScan],
          topics: [[...EVENT_PLANS.keys()]],
          fromBlock: `0x${fromBlock.toString(16)}`,
          toBlock: 'latest',
        },
      ],
    }),
  });
  const { result } = RpcLogs.parse(await response.json());
  return result.map((l) => `${chainId}:${l.blockHash.toLowerCase()}:${Number(l.logIndex)}`);
}

/** Stream = chain: the stream's chain events, reorg notices applied, are the chain's logs once each, in order. */
export function streamVersusChain(stored: readonly Stored[], chainIds: readonly string[]): Difference {
  return compareIds(
    chainIds,
    canonicalChainEvents([...stored]).map((s) => s.message.id),
  );
}

/** The feed frames the stream owes a client for (after, end]: `sequenceId:index:id` keys and frame counts. */
export function expectedFeed(
  stored: readonly Stored[],
  after: number,
): { keys: string[]; counts: Map<number, number> } {
  const keys: string[] = [];
  const counts = new Map<number, number>();
  for (const s of stored) {
    if (s.seq <= after) continue;
    if (s.message.kind === 'reorg') {
      keys.push(`${s.seq}:0:reorg`);
      continue;
    }
    const events = toFeedEvents(s.message, DEFAULT_FEED_OPTIONS);
    for (const [index, e] of events.entries()) keys.push(`${s.seq}:${index}:${e.id}`);
    if (events.length) counts.set(s.seq, events.length);
  }
  return { keys, counts };
}

export interface ClientCheck {
  clients: number;
  /** Feed frames delivered over all clients. */
  delivered: number;
  fullSyncs: number;
  /** FULL_SYNCs after a client's first one (a gap beyond the gateway's replay limit). */
  resyncs: number;
  disconnects: number;
  closeCodes: Record<string, number>;
  lost: number;
  doubled: number;
  extra: number;
  outOfOrder: number;
  wrongCounts: number;
  wrongEpoch: number;
  /** One line per client that failed, with a few of its differences. */
  failures: string[];
}

/**
 * Every client received every stream event after its first cursor exactly once, in order: each segment (from
 * a snapshot or the starting cursor) must be what the stream holds after it, through `toFeedEvents`; only the
 * last segment must reach the end (an earlier one ends where a FULL_SYNC replaced the state).
 */
export function checkClients(fleet: ClientFleet, stored: readonly Stored[], epoch: string): ClientCheck {
  const out: ClientCheck = {
    clients: fleet.clients.length,
    delivered: 0,
    fullSyncs: 0,
    resyncs: 0,
    disconnects: 0,
    closeCodes: {},
    lost: 0,
    doubled: 0,
    extra: 0,
    outOfOrder: 0,
    wrongCounts: 0,
    wrongEpoch: 0,
    failures: [],
  };
  const expectedAfter = new Map<number, ReturnType<typeof expectedFeed>>();
  const expected = (after: number) => {
    let e = expectedAfter.get(after);
    if (!e) {
      e = expectedFeed(stored, after);
      expectedAfter.set(after, e);
    }
    return e;
  };
  for (const c of fleet.clients) {
    out.disconnects += c.disconnects;
    for (const [code, n] of c.closeCodes) out.closeCodes[code] = (out.closeCodes[code] ?? 0) + n;
    const syncs = c.segments.filter((s) => s.via === 'full-sync').length;
    out.fullSyncs += syncs;
    out.resyncs += Math.max(0, syncs - (c.segments[0]?.via === 'full-sync' ? 1 : 0));
    const problems: string[] = [];
    if (c.segments.length === 0) problems.push('never synced');
    if (c.client.cursor?.epoch !== epoch) {
      out.wrongEpoch++;
      problems.push(`epoch ${c.client.cursor?.epoch} ≠ stream ${epoch}`);
    }
    c.segments.forEach((segment: Segment, i) => {
      out.delivered += segment.frames.length;
      const want = expected(segment.after);
      const last = i === c.segments.length - 1;
      // An earlier segment owes only the prefix up to where the next FULL_SYNC took over.
      const upTo = last ? want.keys.length : want.keys.indexOf(segment.frames.at(-1) ?? '') + 1;
      const d = compareIds(want.keys.slice(0, upTo), segment.frames);
      out.lost += d.lost.length;
      out.doubled += d.doubled.length;
      out.extra += d.extra.length;
      if (d.outOfOrder) out.outOfOrder++;
      for (const [seq, count] of segment.counts)
        if (want.counts.get(seq) !== count) {
          out.wrongCounts++;
          problems.push(
            `count ${count} for sequence ${seq}, stream has ${want.counts.get(seq)} (${holding(stored, seq)})`,
          );
        }
      if (!isSame(d)) problems.push(`segment after ${segment.after} (${segment.via}): ${describe(d)}`);
    });
    if (problems.length) out.failures.push(`client ${c.id}: ${problems.slice(0, 3).join('; ')}`);
  }
  return out;
}

/** What the stream holds at `seq`, to tell a sequence reused for another message from one that is gone. */
function holding(stored: readonly Stored[], seq: number): string {
  const m = stored.find((x) => x.seq === seq);
  if (!m) {
    const before = stored.findLast((x) => x.seq < seq)?.seq;
    const after = stored.find((x) => x.seq > seq)?.seq;
    return `no message there; the stream goes from ${before} to ${after}`;
  }
  const name = 'name' in m.message ? m.message.name : m.message.kind;
  return `the stream holds ${m.subject} (${name}, ${m.message.id}) there`;
}

export function describe(d: Difference): string {
  const few = (ids: string[]) => ids.slice(0, 3).join(', ') + (ids.length > 3 ? ', …' : '');
  const parts = [`${d.actual}/${d.expected}`];
  if (d.lost.length) parts.push(`lost ${d.lost.length} (${few(d.lost)})`);
  if (d.doubled.length) parts.push(`doubled ${d.doubled.length} (${few(d.doubled)})`);
  if (d.extra.length) parts.push(`unexpected ${d.extra.length} (${few(d.extra)})`);
  if (d.outOfOrder) parts.push('out of order');
  return parts.join(', ');
}

export interface TableCheck {
  equal: boolean;
  tables: number;
  rows: number;
  /** `projection.table: N rows only in the live tables, M only in the replay`. */
  differences: string[];
}

/**
 * Tables = replay: the projector's tables (it must be stopped: the replay's runner uses the same durable
 * consumer names) against a fresh projection of the same stream into a new database on the same server.
 */
export async function checkTablesAgainstReplay(options: {
  adminUrl: string;
  liveDatabaseUrl: string;
  nc: ConstructorParameters<typeof ProjectionRunner>[0]['nc'];
  chainId: number;
  head: number;
  /** Default: the chaos run's stream. */
  streamName?: string;
  subjectPrefix?: string;
}): Promise<TableCheck> {
  const fresh = await createTestDatabase(options.adminUrl);
  const livePool = await createDatabasePool(options.liveDatabaseUrl, { maximumPoolSize: 2 });
  try {
    await migrate(fresh.url);
    const pool = await createDatabasePool(fresh.url, { maximumPoolSize: 6 });
    const runner = new ProjectionRunner({
      pool,
      databaseUrl: fresh.url,
      nc: options.nc,
      streamName: options.streamName ?? STREAM_NAME,
      chainId: options.chainId,
      subjectPrefix: options.subjectPrefix ?? SUBJECT_PREFIX,
      projections: [...ALL_PROJECTIONS],
      logger: createLogger({ name: 'chaos-replay', level: 'warn' }),
      pollMs: 200,
    });
    let replay: Awaited<ReturnType<typeof dumpAll>>;
    try {
      await runner.start();
      await runner.waitFor(options.head, 180_000);
      replay = await dumpAll(pool);
    } finally {
      await runner.stop().catch(() => {});
      await pool.end();
    }
    const live = await dumpAll(livePool);
    const differences: string[] = [];
    let tables = 0;
    let rows = 0;
    for (const projection of new Set([...Object.keys(live), ...Object.keys(replay)])) {
      const a = live[projection] ?? {};
      const b = replay[projection] ?? {};
      for (const table of new Set([...Object.keys(a), ...Object.keys(b)])) {
        tables++;
        const liveRows = a[table] ?? [];
        const replayRows = b[table] ?? [];
        rows += liveRows.length;
        const { onlyA, onlyB } = multisetDifference(liveRows, replayRows);
        if (onlyA + onlyB > 0)
          differences.push(
            `${projection}.${table}: ${onlyA} rows only in the live tables, ${onlyB} only in the replay`,
          );
      }
    }
    return { equal: differences.length === 0, tables, rows, differences };
  } finally {
    await livePool.end();
    await fresh.drop().catch(() => {});
  }
}

function multisetDifference(a: readonly string[], b: readonly string[]): { onlyA: number; onlyB: number } {
  const counts = new Map<string, number>();
  for (const row of a) counts.set(row, (counts.get(row) ?? 0) + 1);
  for (const row of b) counts.set(row, (counts.get(row) ?? 0) - 1);
  let onlyA = 0;
  let onlyB = 0;
  for (const n of counts.values()) {
    if (n > 0) onlyA += n;
    else onlyB -= n;
  }
  return { onlyA, onlyB };
}
