import { decodeFunctionData } from 'viem';
import { submitDeathsAbi } from '../abi/index.ts';
import { LogDecodeError } from './logDecoder.ts';

/**
 * The victims of a scan, from the input of the submitDeaths call that emitted DeathsSubmitted. The contract
 * reverts unless every listed user dies by the rule, so the input is exactly the set of victims.
 */
export function decodeVictims(txInput: string, txTo: string | null, traceScan: string): string[] {
  if (txTo?.toLowerCase() !== traceScan.toLowerCase()) {
    throw new LogDecodeError(
      'INVALID',
      `DeathsSubmitted in a transaction to ${txTo}, not a direct submitDeaths call`,
    );
  }
  try {
    const { args } = decodeFunctionData({ abi: submitDeathsAbi, data: txInput as `0x${string}` });
    return args[1].map((a) => a.toLowerCase());
  } catch (error) {
    throw new LogDecodeError(
      'INVALID',
      `transaction input is not submitDeaths: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}
