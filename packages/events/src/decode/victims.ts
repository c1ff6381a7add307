import { decodeFunctionData, toFunctionSelector } from 'viem';
import { submitDeathsAbi } from '../abi/index.ts';
import { LogDecodeError } from './logDecoder.ts';

/** What the DeathsSubmitted log says of the call that emitted it: which victims list to look for. */
export interface DeathsSubmittedCall {
  level: number;
  /** users.length of the call (the log's `count`). */
  count: number;
  /** Earlier DeathsSubmitted logs of the same transaction with the same level and count. */
  ordinal: number;
}

const SELECTOR = toFunctionSelector(submitDeathsAbi[0]).slice(2).toLowerCase();

/**
 * The victims of a scan, from the input of the submitDeaths call that emitted DeathsSubmitted. The contract
 * reverts unless every listed user dies by the rule, so the input is exactly the set of victims.
 *
 * submitDeaths is permissionless, so a keeper may call it through a contract (Multicall3, a Safe, a 4337
 * account): the outer transaction then carries the submitDeaths calldata verbatim somewhere in its input. The
 * embedded calls are found by selector and kept only when they decode to the log's level and exactly its count
 * of addresses; the `ordinal`-th of those answers. Nothing found (a contract that builds the list itself) is an
 * error, never a guess: the ingester retries and reports instead of publishing wrong victims.
 */
export function decodeVictims(
  txInput: string,
  txTo: string | null,
  traceScan: string,
  call?: DeathsSubmittedCall,
): string[] {
  if (txTo?.toLowerCase() === traceScan.toLowerCase()) {
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
  if (call) {
    const matches = embeddedCalls(txInput).filter(
      ([level, users]) => level === call.level && users.length === call.count,
    );
    const users = matches[call.ordinal]?.[1];
    if (users) return users;
  }
  throw new LogDecodeError(
    'INVALID',
    `DeathsSubmitted in a transaction to ${txTo}: no submitDeaths(level ${call?.level}, ${call?.count} users) ` +
      'call found in its input (a contract that builds the list itself cannot be decoded)',
  );
}

/** Every submitDeaths calldata embedded in `input`, in order, as [level, users]. */
function embeddedCalls(input: string): [number, string[]][] {
  const hex = input.toLowerCase().replace(/^0x/, '');
  const found: [number, string[]][] = [];
  // Byte-aligned occurrences only (packed encodings such as Safe's multiSend are not 32-byte aligned).
  for (let at = hex.indexOf(SELECTOR); at !== -1; at = hex.indexOf(SELECTOR, at + 2)) {
    if (at % 2 !== 0) continue;
    try {
      const { args } = decodeFunctionData({ abi: submitDeathsAbi, data: `0x${hex.slice(at)}` });
      found.push([Number(args[0]), args[1].map((a) => a.toLowerCase())]);
    } catch {
      // The selector's bytes by chance, or a call cut short: not a call.
    }
  }
  return found;
}
