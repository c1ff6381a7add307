import { encodeFunctionData, parseAbi } from 'viem';
import type { ChainReader } from '../rpc/chainReader.ts';
import type { VictimStakes } from './envelopes.ts';

const getPosition = parseAbi(['function getPosition(address user) view returns (uint256 amount)']);

/**
 * Reads each victim's stake with GhostCore.getPosition at the block of the death. Position is a static
 * struct whose first word is the amount, so only that word is read and the rest of the struct may change
 * without breaking the ingester. Pinned by block hash so that a reorg cannot answer for another chain.
 */
export function createVictimStakeReader(reader: ChainReader, ghostCore: string): VictimStakes {
  return async (victims, blockHash) => {
    const calls = victims.map((user) => ({
      to: ghostCore,
      data: encodeFunctionData({
        abi: getPosition,
        functionName: 'getPosition',
        args: [user as `0x${string}`],
      }),
    }));
    const answers: string[] = [];
    for (let i = 0; i < calls.length; i += 100)
      answers.push(...(await reader.callBatch(calls.slice(i, i + 100), blockHash)));
    return answers.map((data, i) => {
      if (data.length < 66) throw new Error(`getPosition(${victims[i]}) returned ${data.length} hex chars`);
      return BigInt(data.slice(0, 66)).toString();
    });
  };
}
