import { encodeAbiParameters, pad, toEventSelector, toFunctionSelector } from 'viem';
import { describe, expect, it } from 'vitest';
import type { ChainReader } from '../rpc/chainReader.ts';
import type { RpcReceipt } from '../rpc/schemas.ts';
import { createJackpotReader } from './jackpot.ts';
import { NotYetAvailable } from './segment.ts';

const CORE = '0x00000000000000000000000000000000000000c0';
const TOKEN = '0x00000000000000000000000000000000000000d0';
const TREASURY = '0x00000000000000000000000000000000000000e0';
const WINNER = '0x00000000000000000000000000000000000000a1';
const DEAD = '0x000000000000000000000000000000000000dead';
const BLOCK = `0x${'b'.repeat(64)}`;
const TRANSFER = toEventSelector('Transfer(address,address,uint256)');
const DATA_TOKEN = toFunctionSelector('dataToken()');
const TREASURY_OF = toFunctionSelector('treasury()');
const word = (v: bigint) => pad(`0x${v.toString(16)}`).toLowerCase();
const transfer = (logIndex: number, to: string, amount: bigint, address = TOKEN, from = CORE) => ({
  address,
  topics: [TRANSFER, pad(from as `0x${string}`), pad(to as `0x${string}`)].map((t) => t.toLowerCase()),
  data: word(amount),
  logIndex,
});
const position = (level: number, alive: boolean) =>
  encodeAbiParameters(
    [
      { type: 'uint256' },
      { type: 'uint8' },
      { type: 'uint64' },
      { type: 'uint64' },
      { type: 'uint256' },
      { type: 'bool' },
    ],
    [10n, level, 1n, 1n, 0n, alive],
  );

/** A chain with one reset transaction: its receipt, and GhostCore's views as of that block. */
function chain(logs: NonNullable<RpcReceipt>['logs'], winner = { level: 5, alive: true }, blockHash = BLOCK) {
  return {
    receipt: async () => ({ blockHash, logs }),
    callBatch: async (calls: { to: string; data: string }[]) =>
      calls.map(({ data }) =>
        data === DATA_TOKEN
          ? word(BigInt(TOKEN))
          : data === TREASURY_OF
            ? word(BigInt(TREASURY))
            : position(winner.level, winner.alive),
      ),
  } as unknown as ChainReader;
}

const JACKPOT = 500n;
const reset = { txHash: `0x${'1'.repeat(64)}`, logIndex: 10, amount: JACKPOT };
const payouts = (first: number, to = WINNER) => [
  transfer(first, to, JACKPOT),
  transfer(first + 1, DEAD, 300n),
  transfer(first + 2, TREASURY, 1200n),
];

describe('jackpot winner', () => {
  it("is the recipient of the jackpot payout just before the reset's log, with the level of their live position", async () => {
    const read = createJackpotReader(chain(payouts(7)), CORE);
    expect(await read(reset, BLOCK)).toEqual({ jackpotWinner: WINNER, jackpotWinnerLevel: 'BLACK_ICE' });
    // A winner whose position is no longer alive: named, without a level.
    const dead = createJackpotReader(chain(payouts(7), { level: 5, alive: false }), CORE);
    expect(await dead(reset, BLOCK)).toEqual({ jackpotWinner: WINNER, jackpotWinnerLevel: null });
  });

  it('is nobody when the jackpot went to the treasury, or was 0', async () => {
    expect(await createJackpotReader(chain(payouts(7, TREASURY)), CORE)(reset, BLOCK)).toEqual({
      jackpotWinner: null,
      jackpotWinnerLevel: null,
    });
    expect(await createJackpotReader(chain(payouts(7)), CORE)({ ...reset, amount: 0n }, BLOCK)).toEqual({
      jackpotWinner: null,
      jackpotWinnerLevel: null,
    });
  });

  it('cannot be named by anything but the payouts: look-alike logs and earlier transfers are passed over', async () => {
    const attacker = '0x00000000000000000000000000000000000000ff';
    // Another contract's Transfer "from GhostCore" of the jackpot amount, right before the payouts.
    const spoofed = [transfer(6, attacker, JACKPOT, attacker), ...payouts(7)];
    expect((await createJackpotReader(chain(spoofed), CORE)(reset, BLOCK)).jackpotWinner).toBe(WINNER);
    // Only the spoof, right before the log: nobody.
    const only = [transfer(6, WINNER, 1n), transfer(9, attacker, JACKPOT, attacker)];
    expect((await createJackpotReader(chain(only), CORE)(reset, BLOCK)).jackpotWinner).toBeNull();
    // A real DATA transfer from GhostCore of the same amount earlier in the transaction (a claimRewards made
    // by the caller before the reset): not one of the payouts.
    const claimed = [transfer(5, attacker, JACKPOT), transfer(6, attacker, 1n), ...payouts(7)];
    expect((await createJackpotReader(chain(claimed), CORE)(reset, BLOCK)).jackpotWinner).toBe(WINNER);
  });

  it('waits for a receipt of the block being read (a reorg, or a node behind)', async () => {
    const elsewhere = createJackpotReader(chain(payouts(7), undefined, `0x${'c'.repeat(64)}`), CORE);
    await expect(elsewhere(reset, BLOCK)).rejects.toBeInstanceOf(NotYetAvailable);
  });
});
