import { type ChainEnvelope, parseStreamMessage, type ReorgNotice, type Subjects } from '@ghostnet/events';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Position } from '../sync/segment.ts';

/** The chain rewrote more history than we are allowed to follow: an operator must look. */
export class ReorgTooDeep extends Error {
  override name = 'ReorgTooDeep';
}

export interface ResyncOptions {
  jsm: JetStreamManager;
  streamName: string;
  subjects: Subjects;
  chainId: number;
  maxReorgDepth: number;
  /** Is this block hash still the chain's block at that height? */
  isCanonical: (blockNumber: number, blockHash: string) => Promise<boolean>;
  /** Block the ingester starts from when nothing canonical is in the stream. */
  genesis: () => Promise<{ number: number; hash: string }>;
  now?: () => number;
}

export interface ResyncResult {
  /** The newest published event still on the canonical chain; null = start from the configured block. */
  position: Position | null;
  /** To append before anything else when published events fell off the chain. */
  notice: ReorgNotice | null;
}

/**
 * The stream is the checkpoint. Walks it backwards from its end (skipping app messages and events an earlier
 * notice already orphaned) until it finds a published event whose block is still canonical. Everything
 * newer that it passed is orphaned. On a clean restart this reads exactly one message.
 */
export async function resyncFromStream(options: ResyncOptions): Promise<ResyncResult> {
  const { jsm, streamName, subjects } = options;
  const info = await jsm.streams.info(streamName);
  const chainPrefix = `${subjects.root}.chain.`;
  const alreadyOrphaned = new Set<number>();
  const orphaned: number[] = [];
  const canonicalCache = new Map<number, string | false>();
  let newest: ChainEnvelope | null = null;
  let position: Position | null = null;
  let oldestOrphaned = 0;

  for (let seq = info.state.last_seq; seq >= info.state.first_seq && seq > 0; seq--) {
    // null = no message at this sequence (deleted); any error is thrown: skipping a message we could not read
    // would resume before it and append it a second time.
    const stored = await jsm.streams.getMessage(streamName, { seq });
    if (!stored) continue;
    if (stored.subject === subjects.reorg) {
      const notice = parseStreamMessage(stored.data);
      if (notice.kind === 'reorg') for (const s of notice.orphanedSequences) alreadyOrphaned.add(s);
      continue;
    }
    if (!stored.subject.startsWith(chainPrefix) || alreadyOrphaned.has(seq)) continue;
    const envelope = parseStreamMessage(stored.data);
    if (envelope.kind !== 'chain')
      throw new Error(`sequence ${seq} on ${stored.subject} is not a chain event`);
    newest ??= envelope;
    const { number, hash } = envelope.block;
    let canonical = canonicalCache.get(number);
    if (canonical === undefined) {
      canonical = (await options.isCanonical(number, hash)) ? hash : false;
      canonicalCache.set(number, canonical);
    }
    if (canonical === hash) {
      position = { number, hash, afterLogIndex: envelope.logIndex, timestamp: envelope.block.timestamp };
      break;
    }
    // Only an orphaned event proves depth: a canonical one far back (a quiet spell between events) is just the
    // last thing published before the fork, which may be much newer.
    if (newest.block.number - number >= options.maxReorgDepth) {
      throw new ReorgTooDeep(
        `reorg deeper than ${options.maxReorgDepth} blocks: published blocks ${number} to ${newest.block.number} ` +
          `(${newest.block.hash}) are no longer canonical`,
      );
    }
    orphaned.push(seq);
    oldestOrphaned = number;
  }

  if (orphaned.length === 0) return { position, notice: null };
  const ancestor = position ?? (await options.genesis());
  // Blocks from the oldest orphaned event to the newest: the depth the stream proves (the fork itself lies
  // somewhere between the ancestor and the oldest orphaned block).
  const depth = newest!.block.number - oldestOrphaned + 1;
  orphaned.sort((a, b) => a - b);
  const notice: ReorgNotice = {
    v: 1,
    kind: 'reorg',
    id: `${options.chainId}:reorg:${ancestor.hash}:${orphaned[0]}`,
    chainId: options.chainId,
    commonAncestor: { number: ancestor.number, hash: ancestor.hash },
    depth,
    orphanedSequences: orphaned,
    observedAt: (options.now ?? Date.now)(),
  };
  return { position, notice };
}
