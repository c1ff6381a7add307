import type { RawLog } from '@ghostnet/events';
import { type AbiEvent, encodeAbiParameters, encodeEventTopics, type Hex } from 'viem';

export const TEST_BLOCK_HASH = `0x${'ab'.repeat(32)}` as const;
export const TEST_TX_HASH = `0x${'cd'.repeat(32)}` as const;

/** A value for every parameter type, chosen so each decoder path (padding, enums, uint64 → ms) is used. */
export function sampleArg(param: { name?: string; type: string }, i: number): unknown {
  switch (param.type) {
    case 'address':
      return `0x${(i + 1).toString(16).padStart(2, '0').repeat(20)}`;
    case 'uint256':
      return 2n ** 255n + BigInt(i);
    case 'uint8':
      return param.name === 'boostType' ? 1 : 5;
    case 'uint16':
      return 1500;
    case 'uint64':
      return 1_705_794_000n + BigInt(i);
    default:
      throw new Error(`no sample for ${param.type}`);
  }
}

/** A log exactly as the contract's ABI encodes it, built with viem's encoder rather than by hand. */
export function encodeTestLog(
  event: AbiEvent,
  address: string,
  values: Record<string, unknown> = {},
  position: Partial<
    Pick<RawLog, 'blockNumber' | 'blockHash' | 'logIndex' | 'transactionHash' | 'transactionIndex'>
  > = {},
): RawLog {
  const args = Object.fromEntries(event.inputs.map((p, i) => [p.name!, values[p.name!] ?? sampleArg(p, i)]));
  const topics = encodeEventTopics({ abi: [event], eventName: event.name, args } as never) as Hex[];
  const nonIndexed = event.inputs.filter((p) => !p.indexed);
  const data = encodeAbiParameters(
    nonIndexed,
    nonIndexed.map((p) => args[p.name!]),
  );
  return {
    address,
    topics,
    data,
    blockNumber: 42n,
    blockHash: TEST_BLOCK_HASH,
    logIndex: 3,
    transactionHash: TEST_TX_HASH,
    transactionIndex: 1,
    ...position,
  };
}
