import {
  type ChainEnvelope,
  createLogDecoder,
  decodeVictims,
  EVENT_PLANS,
  type LogContext,
} from '@ghostnet/events';
import type { RpcTransaction } from '../rpc/schemas.ts';
import type { JackpotReader } from './jackpot.ts';
import { NotYetAvailable, type Position, type Segment } from './segment.ts';

/** The topic0 of every event we index: the log filter asks the node for nothing else. */
export const INDEXED_TOPICS = [...EVENT_PLANS.keys()];

/** Each victim's stake at the block of their death (the contract keeps dead positions readable). */
export type VictimStakes = (victims: string[], blockHash: string) => Promise<string[]>;

export interface EnvelopeBuilderOptions {
  chainId: number;
  addresses: { GhostCore: string; TraceScan: string };
  victimStakes: VictimStakes;
  /** SystemResetTriggered's jackpot winner (absent: not enriched, e.g. decoder tests). */
  jackpot?: JackpotReader;
  now?: () => number;
}

/**
 * Turns a fetched segment into envelopes, adding what logs lack: block time, sender, a scan's victims (from the
 * submitDeaths input) with their stakes, and ScanFinalized's survivor count (from the SurvivorsUpdated log just
 * before it in the same transaction). Logs at or before `skip` are already in the stream and are not returned,
 * but are still read so that a resume in the middle of a transaction enriches the rest the same way.
 */
export function createEnvelopeBuilder(options: EnvelopeBuilderOptions) {
  const decode = createLogDecoder({ chainId: options.chainId, addresses: options.addresses });
  const now = options.now ?? Date.now;
  const traceScan = options.addresses.TraceScan.toLowerCase();

  return async function build(segment: Segment, skip: Position | null): Promise<ChainEnvelope[]> {
    const out: ChainEnvelope[] = [];
    const txIndex = new Map<string, RpcTransaction>();
    const survivorsByTx = new Map<string, string>();
    const deathCalls = new Map<string, number>();
    const observedAt = now();
    for (const block of segment.blocks.values())
      for (const tx of block.transactions) txIndex.set(tx.hash, tx);

    for (const log of segment.logs) {
      const block = segment.blocks.get(log.blockNumber)!;
      const tx = txIndex.get(log.transactionHash);
      if (!tx)
        throw new NotYetAvailable(`transaction ${log.transactionHash} missing from block ${block.number}`);
      const topic0 = log.topics[0];
      const name = topic0 ? EVENT_PLANS.get(topic0)?.name : undefined;
      const context: LogContext = { blockTimestampMs: block.timestamp * 1000, txFrom: tx.from, observedAt };
      if (name === 'DeathsSubmitted') {
        // The log's own level (indexed) and count (first data word) name the call it came from, for a
        // submitDeaths made through a contract (decodeVictims looks for it in the transaction's input).
        const call = {
          level: Number(BigInt(log.topics[1] ?? '0x0')),
          // A short data field matches no call (-1); the decoder then refuses the log as it would anyway.
          count: log.data.length >= 66 ? Number(BigInt(log.data.slice(0, 66))) : -1,
          ordinal: 0,
        };
        const key = `${tx.hash}:${call.level}:${call.count}`;
        call.ordinal = deathCalls.get(key) ?? 0;
        deathCalls.set(key, call.ordinal + 1);
        const victims = decodeVictims(tx.input, tx.to, traceScan, call);
        const stakes = await options.victimStakes(victims, block.hash);
        context.enrichment = { victims: victims.map((address, i) => ({ address, amountLost: stakes[i]! })) };
      } else if (name === 'ScanFinalized') {
        const survivors = survivorsByTx.get(tx.hash);
        if (survivors === undefined) {
          throw new NotYetAvailable(`ScanFinalized in ${tx.hash} without a SurvivorsUpdated before it`);
        }
        context.enrichment = { survivors };
      } else if (name === 'SystemResetTriggered' && options.jackpot) {
        // data: totalPenalty, jackpotAmount (the winner is indexed).
        const amount = log.data.length >= 130 ? BigInt(`0x${log.data.slice(66, 130)}`) : 0n;
        context.enrichment = await options.jackpot(
          { txHash: tx.hash, logIndex: log.logIndex, amount },
          block.hash,
        );
      }
      const envelope = decode(log, context);
      if (envelope.name === 'SurvivorsUpdated') survivorsByTx.set(tx.hash, envelope.args.count);
      const skipped =
        skip !== null &&
        (log.blockNumber < skip.number ||
          (log.blockNumber === skip.number &&
            skip.afterLogIndex !== null &&
            log.logIndex <= skip.afterLogIndex) ||
          (log.blockNumber === skip.number && skip.afterLogIndex === null));
      if (!skipped) out.push(envelope);
    }
    return out;
  };
}
