import { type LevelName, LevelName as Levels } from '@ghostnet/events';
import { encodeFunctionData, pad, parseAbi, toEventSelector } from 'viem';
import type { ChainReader } from '../rpc/chainReader.ts';
import { NotYetAvailable } from './segment.ts';

const TRANSFER = toEventSelector('Transfer(address,address,uint256)');
const views = parseAbi([
  'function getPosition(address user) view returns (uint256 amount, uint8 level)',
  'function treasury() view returns (address)',
]);
const LEVELS = Levels.options;

export interface Jackpot {
  jackpotWinner: string | null;
  jackpotWinnerLevel: LevelName | null;
}

/** Who a SystemResetTriggered's jackpot went to (see the envelope's enrichment). */
export type JackpotReader = (
  reset: { txHash: string; logIndex: number; amount: bigint },
  blockHash: string,
) => Promise<Jackpot>;

const NOBODY: Jackpot = { jackpotWinner: null, jackpotWinnerLevel: null };

/**
 * The log names no winner (it is emitted after the last depositor is cleared), but GhostCore pays the jackpot
 * first, in the same transaction: the first ERC-20 Transfer of exactly `jackpotAmount` from GhostCore before
 * the reset's log. Its recipient is the winner, unless it is GhostCore's treasury (no deposit since the last
 * reset). The level is the winner's position's at the end of that block (getPosition's second word; null
 * without one, e.g. they extracted after depositing). The receipt is checked to belong to the block being
 * read, and the calls are pinned to it, so a reorg cannot answer for another chain.
 */
export function createJackpotReader(reader: ChainReader, ghostCore: string): JackpotReader {
  const from = pad(ghostCore.toLowerCase() as `0x${string}`).toLowerCase();
  return async ({ txHash, logIndex, amount }, blockHash) => {
    if (amount === 0n) return NOBODY;
    const receipt = await reader.receipt(txHash);
    if (!receipt || receipt.blockHash !== blockHash)
      throw new NotYetAvailable(`receipt of ${txHash} not (yet) in block ${blockHash}`);
    const transfer = receipt.logs.find(
      (l) =>
        l.logIndex < logIndex &&
        l.topics.length === 3 &&
        l.topics[0] === TRANSFER &&
        l.topics[1] === from &&
        l.data.length === 66 &&
        BigInt(l.data) === amount,
    );
    if (!transfer) return NOBODY;
    const winner = `0x${transfer.topics[2]!.slice(26)}` as `0x${string}`;
    const [treasury, position] = await reader.callBatch(
      [
        { to: ghostCore, data: encodeFunctionData({ abi: views, functionName: 'treasury' }) },
        {
          to: ghostCore,
          data: encodeFunctionData({ abi: views, functionName: 'getPosition', args: [winner] }),
        },
      ],
      blockHash,
    );
    if (!treasury || !position || treasury.length < 66 || position.length < 130)
      throw new Error(`treasury() or getPosition(${winner}) answered too short`);
    if (`0x${treasury.slice(26, 66).toLowerCase()}` === winner) return NOBODY;
    const level = Number(BigInt(`0x${position.slice(66, 130)}`));
    return {
      jackpotWinner: winner,
      jackpotWinnerLevel: level >= 1 && level <= LEVELS.length ? LEVELS[level - 1]! : null,
    };
  };
}
