import { encodeFunctionData, encodePacked, parseAbi } from 'viem';
import { describe, expect, it } from 'vitest';
import { submitDeathsAbi } from '../abi/index.ts';
import { LogDecodeError } from './logDecoder.ts';
import { decodeVictims } from './victims.ts';

const traceScan = `0x${'7a'.repeat(20)}` as const;
const keeper = `0x${'4b'.repeat(20)}` as const;
const user = (n: number) => `0x${n.toString(16).padStart(40, '0')}` as const;
const submit = (level: number, users: `0x${string}`[]) =>
  encodeFunctionData({ abi: submitDeathsAbi, functionName: 'submitDeaths', args: [level, users] });

const multicall3 = parseAbi([
  'struct Call3 { address target; bool allowFailure; bytes callData; }',
  'function aggregate3(Call3[] calls) payable returns ((bool success, bytes returnData)[])',
]);
const safe = parseAbi([
  'function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool)',
]);

describe('decodeVictims', () => {
  it('reads a direct submitDeaths call', () => {
    expect(decodeVictims(submit(2, [user(1), user(2)]), traceScan, traceScan)).toEqual([user(1), user(2)]);
  });

  it('finds the call inside a Multicall3 batch, by level, count and order', () => {
    const input = encodeFunctionData({
      abi: multicall3,
      functionName: 'aggregate3',
      args: [
        [
          { target: traceScan, allowFailure: false, callData: submit(1, [user(1), user(2), user(3)]) },
          { target: traceScan, allowFailure: false, callData: submit(4, [user(9)]) },
          { target: traceScan, allowFailure: false, callData: submit(1, [user(4), user(5), user(6)]) },
        ],
      ],
    });
    expect(decodeVictims(input, keeper, traceScan, { level: 4, count: 1, ordinal: 0 })).toEqual([user(9)]);
    expect(decodeVictims(input, keeper, traceScan, { level: 1, count: 3, ordinal: 0 })).toEqual([
      user(1),
      user(2),
      user(3),
    ]);
    expect(decodeVictims(input, keeper, traceScan, { level: 1, count: 3, ordinal: 1 })).toEqual([
      user(4),
      user(5),
      user(6),
    ]);
  });

  it("finds it in a Safe's execTransaction and in a packed multiSend (not 32-byte aligned)", () => {
    const call = submit(3, [user(7), user(8)]);
    const viaSafe = encodeFunctionData({
      abi: safe,
      functionName: 'execTransaction',
      args: [traceScan, 0n, call, 0, 0n, 0n, 0n, user(0), user(0), '0x'],
    });
    expect(decodeVictims(viaSafe, keeper, traceScan, { level: 3, count: 2, ordinal: 0 })).toEqual([
      user(7),
      user(8),
    ]);
    // multiSend packs operation (1 byte), to (20), value (32), data length (32), data: odd offsets.
    const packed = encodePacked(
      ['uint8', 'address', 'uint256', 'uint256', 'bytes'],
      [0, traceScan, 0n, BigInt((call.length - 2) / 2), call],
    );
    expect(
      decodeVictims(`0x8d80ff0a${packed.slice(2)}`, keeper, traceScan, { level: 3, count: 2, ordinal: 0 }),
    ).toEqual([user(7), user(8)]);
  });

  it('refuses to guess: no matching call (another level, another count, a list built on chain)', () => {
    const input = submit(1, [user(1), user(2)]);
    for (const call of [
      { level: 2, count: 2, ordinal: 0 },
      { level: 1, count: 3, ordinal: 0 },
      { level: 1, count: 2, ordinal: 1 },
    ]) {
      expect(() => decodeVictims(input, keeper, traceScan, call)).toThrow(LogDecodeError);
    }
    expect(() => decodeVictims('0x12345678', keeper, traceScan, { level: 1, count: 1, ordinal: 0 })).toThrow(
      /no submitDeaths\(level 1, 1 users\) call found/,
    );
  });
});
