import { type LevelName, LevelName as Levels } from '@ghostnet/events';
import { encodeFunctionData, pad, parseAbi, toEventSelector } from 'viem';
import type { ChainReader } from '../rpc/chainReader.ts';
import type { RpcReceipt } from '../rpc/schemas.ts';
import { NotYetAvailable } from './segment.ts';

const TRANSFER = toEventSelector('Transfer(address,address,uint256)');
const views = parseAbi([
  'function getPosition(address user) view returns (uint256 amount, uint8 level, uint64 entryTimestamp, uint64 lastAddTimestamp, uint256 rewardDebt, bool alive)',
  'function treasury() view returns (address)',
  'function dataToken() view returns (address)',
]);
const LEVELS = Levels.options;
/** triggerSystemReset pays the jackpot, the burn and the protocol share, in that order, then emits its log. */
const PAYOUTS = 3;

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

type ReceiptLog = NonNullable<RpcReceipt>['logs'][number];

/**
 * The log names no winner (it is emitted after the last depositor is cleared), but GhostCore pays the jackpot
 * just before it: among the DATA transfers from GhostCore that immediately precede the reset's log (at most
 * the three payouts; anything else in the transaction, such as a claimRewards before the reset, is further
 * back or not a DATA transfer from GhostCore), the first of exactly `jackpotAmount`. Only the DATA token's own
 * logs count: another contract emitting a look-alike Transfer cannot name a winner. The recipient is the
 * winner, unless it is GhostCore's treasury (no deposit since the last reset). The level is the winner's
 * position's at the end of that block if it is alive then (getPosition), else null. The receipt is checked to
 * belong to the block being read, and the calls are pinned to it, so a reorg cannot answer for another chain.
 */
export function createJackpotReader(reader: ChainReader, ghostCore: string): JackpotReader {
  const from = pad(ghostCore.toLowerCase() as `0x${string}`).toLowerCase();
  const call = (data: `0x${string}`) => ({ to: ghostCore, data });
  return async ({ txHash, logIndex, amount }, blockHash) => {
    if (amount === 0n) return NOBODY;
    const receipt = await reader.receipt(txHash);
    if (!receipt || receipt.blockHash !== blockHash)
      throw new NotYetAvailable(`receipt of ${txHash} not (yet) in block ${blockHash}`);
    const before = receipt.logs.filter((l) => l.logIndex < logIndex).sort((a, b) => a.logIndex - b.logIndex);
    // The run of payouts right before the reset's log, oldest first; the jackpot is the first of its amount.
    const jackpotIn = (token: string | null) => {
      const run: ReceiptLog[] = [];
      for (let i = before.length - 1; i >= 0 && run.length < PAYOUTS; i--) {
        const l = before[i]!;
        const payout = l.topics.length === 3 && l.topics[0] === TRANSFER && l.topics[1] === from;
        if (!payout || (token !== null && l.address !== token)) break;
        run.unshift(l);
      }
      return run.find((l) => l.data.length === 66 && BigInt(l.data) === amount);
    };
    // Nothing that even looks like the payout: no chain reads (an emitter contract in tests has no views).
    if (!jackpotIn(null)) return NOBODY;
    const [token, treasury] = await reader.callBatch(
      [
        call(encodeFunctionData({ abi: views, functionName: 'dataToken' })),
        call(encodeFunctionData({ abi: views, functionName: 'treasury' })),
      ],
      blockHash,
    );
    const jackpot = jackpotIn(addressWord(token, 'dataToken()'));
    if (!jackpot) return NOBODY;
    const winner = `0x${jackpot.topics[2]!.slice(26)}` as `0x${string}`;
    if (winner === addressWord(treasury, 'treasury()')) return NOBODY;
    const [position] = await reader.callBatch(
      [call(encodeFunctionData({ abi: views, functionName: 'getPosition', args: [winner] }))],
      blockHash,
    );
    if (!position || position.length < 2 + 64 * 6)
      throw new Error(`getPosition(${winner}) answered ${position?.length ?? 0} hex chars`);
    const level = Number(BigInt(`0x${position.slice(66, 130)}`));
    const alive = BigInt(`0x${position.slice(2 + 64 * 5, 2 + 64 * 6)}`) === 1n;
    return {
      jackpotWinner: winner,
      jackpotWinnerLevel: alive && level >= 1 && level <= LEVELS.length ? LEVELS[level - 1]! : null,
    };
  };
}

function addressWord(word: string | undefined, what: string): string {
  if (!word || word.length < 66) throw new Error(`${what} answered ${word?.length ?? 0} hex chars`);
  return `0x${word.slice(26, 66).toLowerCase()}`;
}
