import type { ChainReader } from '../rpc/chainReader.ts';
import type { RpcBlockWithTxs, RpcLog } from '../rpc/schemas.ts';

/** A block we trust as the parent of what comes next. */
export interface Anchor {
  number: number;
  hash: string;
}

/** Where the ingester stands: the last block it fully or partly published. */
export interface Position extends Anchor {
  /** Logs of this block up to this index are in the stream; null = the whole block is. */
  afterLogIndex: number | null;
  timestamp?: number;
}

/** Consecutive blocks fetched as one consistent piece of one chain. */
export interface Segment {
  from: number;
  to: number;
  logs: RpcLog[];
  blocks: Map<number, RpcBlockWithTxs>;
  /** Header of `to`: the anchor of the next segment. */
  end: Anchor & { timestamp: number };
}

/** The chain below or at the range disagrees with what we published: resync from the stream. */
export class ReorgDetected extends Error {
  override name = 'ReorgDetected';
}

/** The node does not have the blocks yet (lagging or load-balanced): try again shortly. */
export class NotYetAvailable extends Error {
  override name = 'NotYetAvailable';
}

export interface SegmentRequest {
  from: number;
  to: number;
  /** Header of block from-1 that the range must extend; null only when from is block 0. */
  anchor: Anchor | null;
  /** When re-entering a partly published block: its hash must not have changed. */
  expectFromHash?: string;
  /** The header of `from` if a newHeads notification already carried it (single-block requests). */
  knownHeader?: { number: number; hash: string; parentHash: string; timestamp: number };
}

/**
 * Fetches [from, to] so that the answer is provably one chain extending `anchor`: the headers of `to` and of
 * the anchor are read before and after the log query and must not change; every log's block hash must equal
 * its block's header. Anything else means the chain moved under us: ReorgDetected (the anchor itself changed)
 * or a retry.
 */
export async function fetchSegment(reader: ChainReader, request: SegmentRequest): Promise<Segment> {
  const { from, to, anchor } = request;
  if (from === to && anchor) return fetchOneBlock(reader, request);

  // A partly published `from` block is pinned too: if it was replaced, the logs already published from it are
  // orphaned even when the new block has no logs of ours.
  const pinned = [to, ...(anchor ? [anchor.number] : []), ...(request.expectFromHash ? [from] : [])];
  const before = await reader.headers(pinned);
  checkPins(before, anchor, to, request);
  const logs = await reader.logs(from, to);
  const after = await reader.headers(pinned);
  checkPins(after, anchor, to, request);
  if (after[0]!.hash !== before[0]!.hash)
    throw new NotYetAvailable(`block ${to} changed during the range query`);

  const blockNumbers = [...new Set(logs.map((l) => l.blockNumber))].sort((a, b) => a - b);
  const blocks = new Map<number, RpcBlockWithTxs>();
  for (let i = 0; i < blockNumbers.length; i += 50) {
    const chunk = blockNumbers.slice(i, i + 50);
    const answers = await reader.blocksWithTxs(chunk);
    answers.forEach((block, k) => {
      if (!block) throw new NotYetAvailable(`block ${chunk[k]} not available`);
      blocks.set(block.number, block);
    });
  }
  const end = { number: to, hash: before[0]!.hash, timestamp: before[0]!.timestamp };
  return { from, to, logs: checkLogs(logs, blocks, request), blocks, end };
}

async function fetchOneBlock(reader: ChainReader, request: SegmentRequest): Promise<Segment> {
  const { from, anchor } = request;
  const header = request.knownHeader?.number === from ? request.knownHeader : await reader.header(from);
  if (!header) throw new NotYetAvailable(`block ${from} not available`);
  if (header.parentHash !== anchor!.hash) {
    throw new ReorgDetected(`block ${from} has parent ${header.parentHash}, expected ${anchor!.hash}`);
  }
  if (request.expectFromHash && header.hash !== request.expectFromHash) {
    throw new ReorgDetected(`block ${from} is no longer ${request.expectFromHash}`);
  }
  // Both pinned to the block hash, so they can go in parallel: one round trip for a live block.
  const [logs, block] = await Promise.all([
    reader.logsByHash(header.hash),
    reader.blockWithTxsByHash(header.hash),
  ]);
  // Even with no logs: a node that does not know the hash may answer eth_getLogs({blockHash}) with [] (a
  // load-balanced RPC, or a header from a WebSocket node ahead of the HTTP one). Only a node that returns the
  // block itself has vouched that the block has none of our events.
  if (!block || block.hash !== header.hash) throw new NotYetAvailable(`block ${header.hash} not available`);
  const blocks = new Map<number, RpcBlockWithTxs>();
  if (logs.length > 0) blocks.set(block.number, block);
  return {
    from,
    to: from,
    logs: checkLogs(logs, blocks, request),
    blocks,
    end: { number: from, hash: header.hash, timestamp: header.timestamp },
  };
}

function checkPins(
  headers: ((Anchor & { timestamp: number }) | null)[],
  anchor: Anchor | null,
  to: number,
  request: SegmentRequest,
) {
  if (headers.some((h) => h === null)) throw new NotYetAvailable(`blocks up to ${to} not available`);
  let i = 1;
  if (anchor) {
    const live = headers[i++]!;
    if (live.hash !== anchor.hash)
      throw new ReorgDetected(`block ${anchor.number} is no longer ${anchor.hash}`);
  }
  if (request.expectFromHash && headers[i]!.hash !== request.expectFromHash) {
    throw new ReorgDetected(`block ${request.from} is no longer ${request.expectFromHash}`);
  }
}

function checkLogs(logs: RpcLog[], blocks: Map<number, RpcBlockWithTxs>, request: SegmentRequest): RpcLog[] {
  const sorted = [...logs].sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  for (let i = 0; i < sorted.length; i++) {
    const log = sorted[i]!;
    if (log.removed) throw new NotYetAvailable(`log ${log.blockHash}:${log.logIndex} is marked removed`);
    if (log.blockNumber < request.from || log.blockNumber > request.to) {
      throw new NotYetAvailable(
        `node answered a log of block ${log.blockNumber} for ${request.from}..${request.to}`,
      );
    }
    const block = blocks.get(log.blockNumber);
    if (!block || block.hash !== log.blockHash)
      throw new NotYetAvailable(`block ${log.blockNumber} changed under the query`);
    if (i > 0 && sorted[i - 1]!.blockNumber === log.blockNumber && sorted[i - 1]!.logIndex === log.logIndex) {
      throw new NotYetAvailable(`node answered log ${log.blockNumber}:${log.logIndex} twice`);
    }
    if (
      request.expectFromHash &&
      log.blockNumber === request.from &&
      log.blockHash !== request.expectFromHash
    ) {
      throw new ReorgDetected(`block ${request.from} is no longer ${request.expectFromHash}`);
    }
  }
  return sorted;
}
