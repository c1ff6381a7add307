import { type Anvil, sendContractCall, startAnvil } from '@ghostnet/test';
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createTestClient,
  decodeEventLog,
  encodeAbiParameters,
  type Hex,
  http,
  keccak256,
  type LocalAccount,
  parseEther,
  type TransactionReceipt,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anvilAccount, DEV_ACCOUNT_ROLES } from './anvilAccounts.ts';
import { dataTokenAbi } from './artifacts/DataToken.ts';
import { ghostCoreAbi } from './artifacts/GhostCore.ts';
import { traceScanAbi } from './artifacts/TraceScan.ts';
import { deployGhostnet, type GhostnetDeployment } from './deploy.ts';
import { BoostType, boostNonce, signBoost } from './eip712.ts';

const DATA = 10n ** 18n;
const KAT_GHOST_CORE = '0xdc64a140aa3e981100a9beca4e685f962f0cf6c9';
const abi = [...ghostCoreAbi, ...traceScanAbi, ...dataTokenAbi];

let anvil: Anvil;
let deployment: GhostnetDeployment;
const owner = anvilAccount(DEV_ACCOUNT_ROLES.deployer);
const boostSigner = anvilAccount(DEV_ACCOUNT_ROLES.boostSigner);
// Players: fresh keys, funded by deployGhostnet (ETH via anvil_setBalance).
const players = Array.from({ length: 24 }, (_, i) =>
  privateKeyToAccount(keccak256(`0x${(i + 1).toString(16).padStart(4, '0')}`)),
);

const publicClient = () => createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
const testClient = () => createTestClient({ chain: foundry, mode: 'anvil', transport: http(anvil.rpcUrl) });

beforeAll(async () => {
  anvil = await startAnvil();
  // GhostCore is the deployer's second contract: at nonce 4 it lands on the facts file's KAT address.
  await testClient().setNonce({ address: owner.address, nonce: 3 });
  deployment = await deployGhostnet({
    rpcUrl: anvil.rpcUrl,
    fund: { accounts: players, amount: 1_000_000n * DATA, eth: parseEther('100') },
  });
  // Chain time moves one second per block, not with the wall clock: a loaded machine must not push a
  // test's transactions out of the 120 s submission window.
  await testClient().request({ method: 'anvil_setBlockTimestampInterval' as never, params: [1] as never });
});

afterAll(async () => {
  await anvil?.stop();
});

function send(
  account: LocalAccount,
  contract: 'GhostCore' | 'TraceScan',
  functionName: string,
  args: readonly unknown[] = [],
): Promise<TransactionReceipt> {
  return sendContractCall(anvil.rpcUrl, account, {
    address: deployment.addresses[contract],
    abi: contract === 'GhostCore' ? ghostCoreAbi : traceScanAbi,
    functionName,
    args,
  });
}

/** The custom error a call reverts with (from simulating it), or undefined when it would succeed. */
async function revertOf(
  account: LocalAccount,
  contract: 'GhostCore' | 'TraceScan',
  functionName: string,
  args: readonly unknown[] = [],
): Promise<string | undefined> {
  try {
    await publicClient().simulateContract({
      account,
      address: deployment.addresses[contract],
      // Both ABIs: TraceScan reverts with GhostCore's errors when processDeaths refuses a user.
      abi,
      functionName,
      args,
    } as never);
    return undefined;
  } catch (error) {
    const reverted =
      error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (reverted instanceof ContractFunctionRevertedError) {
      return reverted.data?.errorName ?? reverted.reason ?? `undecoded revert ${reverted.signature ?? ''}`;
    }
    throw error;
  }
}

function eventsOf(receipt: TransactionReceipt) {
  const ours = new Set([deployment.addresses.GhostCore, deployment.addresses.TraceScan]);
  return receipt.logs
    .filter((l) => ours.has(l.address.toLowerCase() as Address))
    .map(
      (l) =>
        decodeEventLog({ abi, data: l.data, topics: l.topics }) as {
          eventName: string;
          args: Record<string, unknown>;
        },
    );
}

async function read<T>(
  contract: 'GhostCore' | 'TraceScan' | 'DataToken',
  functionName: string,
  args: readonly unknown[] = [],
) {
  return (await publicClient().readContract({
    address: deployment.addresses[contract],
    abi: contract === 'GhostCore' ? ghostCoreAbi : contract === 'TraceScan' ? traceScanAbi : dataTokenAbi,
    functionName,
    args,
  } as never)) as T;
}

async function now(): Promise<bigint> {
  return (await publicClient().getBlock()).timestamp;
}

async function warpTo(timestamp: bigint) {
  await testClient().setNextBlockTimestamp({ timestamp });
  await testClient().mine({ blocks: 1 });
}

describe('EIP-712 on chain', () => {
  it('reproduces the known-answer domain separator and digest in GhostCore itself', async () => {
    expect(deployment.addresses.GhostCore).toBe(KAT_GHOST_CORE);
    expect(await read('GhostCore', 'DOMAIN_SEPARATOR')).toBe(
      '0x00d968d0bd6aee46748f6a3d7bc88847e27041482efc75ea544726a828b3104f',
    );
    expect(
      await read('GhostCore', 'hashBoost', [
        '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
        0,
        1500,
        1705794000n,
        `0x${'00'.repeat(31)}01`,
      ]),
    ).toBe('0xba868a9a2ea42a3486bb2d1f56302af60f505a74b4434c7631541e4906fbc2fe');
  });
});

describe('applyBoost', () => {
  const player = players[0]!;
  const sign = async (overrides: {
    nonce: Hex;
    expiry?: bigint;
    signer?: LocalAccount;
    valueBps?: number;
  }) => {
    const expiry = overrides.expiry ?? (await now()) + 3600n;
    const signature = await signBoost({
      signer: overrides.signer ?? boostSigner,
      chainId: deployment.chainId,
      ghostCore: deployment.addresses.GhostCore,
      message: {
        user: player.address,
        boostType: BoostType.DEATH_REDUCTION,
        valueBps: overrides.valueBps ?? 1000,
        expiry,
        nonce: overrides.nonce,
      },
    });
    return [
      BoostType.DEATH_REDUCTION,
      overrides.valueBps ?? 1000,
      expiry,
      overrides.nonce,
      signature,
    ] as const;
  };

  beforeAll(async () => {
    await send(player, 'GhostCore', 'jackIn', [100n * DATA, 3]);
    await send(players[1]!, 'GhostCore', 'jackIn', [100n * DATA, 3]);
  });

  it('accepts a boost signed with viem by the boost signer, and lowers the effective death rate', async () => {
    const args = await sign({ nonce: boostNonce('test', 1) });
    const receipt = await send(player, 'GhostCore', 'applyBoost', args);
    expect(eventsOf(receipt)).toEqual([
      {
        eventName: 'BoostApplied',
        args: { user: player.address, boostType: 0, valueBps: 1000, expiry: args[2] },
      },
    ]);
    expect(await read('GhostCore', 'getEffectiveDeathRate', [player.address])).toBe(2500 - 1000);
    expect(await read('GhostCore', 'getActiveBoosts', [player.address])).toEqual([
      { boostType: 0, valueBps: 1000, expiry: args[2] },
    ]);
    expect(await read('GhostCore', 'usedNonces', [boostNonce('test', 1)])).toBe(true);
  });

  it('rejects a wrong signer, an expired boost and a reused nonce with their errors, in the facts order', async () => {
    const stranger = privateKeyToAccount(keccak256('0xbad0'));
    expect(
      await revertOf(
        player,
        'GhostCore',
        'applyBoost',
        await sign({ nonce: boostNonce('test', 2), signer: stranger }),
      ),
    ).toBe('InvalidSignature');
    const expired = await sign({ nonce: boostNonce('test', 3), expiry: await now() });
    expect(await revertOf(player, 'GhostCore', 'applyBoost', expired)).toBe('SignatureExpired');
    const reused = await sign({ nonce: boostNonce('test', 1) });
    expect(await revertOf(player, 'GhostCore', 'applyBoost', reused)).toBe('NonceAlreadyUsed');
    // Expiry is checked before the nonce, the nonce before the signer.
    expect(
      await revertOf(
        player,
        'GhostCore',
        'applyBoost',
        await sign({ nonce: boostNonce('test', 1), expiry: 1n, signer: stranger }),
      ),
    ).toBe('SignatureExpired');
    expect(
      await revertOf(
        player,
        'GhostCore',
        'applyBoost',
        await sign({ nonce: boostNonce('test', 1), signer: stranger }),
      ),
    ).toBe('NonceAlreadyUsed');
    // A valid signature for another user is a wrong signer for this one; nonces are global, not per user.
    const forOther = await sign({ nonce: boostNonce('test', 4) });
    expect(await revertOf(players[1]!, 'GhostCore', 'applyBoost', forOther)).toBe('InvalidSignature');
    expect(await revertOf(players[22]!, 'GhostCore', 'applyBoost', forOther)).toBe('NoPositionExists');
  });

  it('refuses high-s and non-65-byte signatures', async () => {
    const [t, v, e, n, signature] = await sign({ nonce: boostNonce('test', 5) });
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const highS =
      `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${signature.slice(130) === '1b' ? '1c' : '1b'}` as Hex;
    expect(await revertOf(player, 'GhostCore', 'applyBoost', [t, v, e, n, highS])).toBe(
      'ECDSAInvalidSignatureS',
    );
    expect(
      await revertOf(player, 'GhostCore', 'applyBoost', [t, v, e, n, signature.slice(0, 130) as Hex]),
    ).toBe('ECDSAInvalidSignatureLength');
    expect(await revertOf(player, 'GhostCore', 'applyBoost', [t, v, e, n, signature])).toBeUndefined();
  });
});

describe('a trace scan', () => {
  const LEVEL = 5; // BLACK_ICE, 45%
  const cohort = players.slice(2, 18);
  let seed: bigint;
  let victims: Address[];
  let survivors: Address[];

  it('kills exactly the players the rule selects and no one else', async () => {
    for (const p of cohort) await send(p, 'GhostCore', 'jackIn', [250n * DATA, LEVEL]);
    const next = (await read<{ nextScanTime: bigint }>('GhostCore', 'getLevelState', [LEVEL])).nextScanTime;
    await send(owner, 'GhostCore', 'setNextScanTime', [LEVEL, (await now()) + 10n]);
    expect(next).toBeGreaterThan(await now());
    expect(await revertOf(owner, 'TraceScan', 'executeScan', [LEVEL])).toBe('ScanNotDue');
    expect(await read('TraceScan', 'canExecuteScan', [LEVEL])).toBe(false);
    await warpTo((await now()) + 10n);
    expect(await read('TraceScan', 'canExecuteScan', [LEVEL])).toBe(true);

    const executed = eventsOf(await send(owner, 'TraceScan', 'executeScan', [LEVEL]));
    expect(executed.map((e) => e.eventName)).toEqual(['ScanExecuted']);
    seed = executed[0]!.args.seed as bigint;

    const roll = (user: Address) =>
      BigInt(keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'address' }], [seed, user]))) %
      10_000n;
    // A player the base rate kills but a 2500 bps boost saves: the rule must use the effective rate.
    const saved = cohort.find((p) => roll(p.address) >= 2000n && roll(p.address) < 4500n);
    expect(saved).toBeDefined();
    const signature = await signBoost({
      signer: boostSigner,
      chainId: deployment.chainId,
      ghostCore: deployment.addresses.GhostCore,
      message: {
        user: saved!.address,
        boostType: 0,
        valueBps: 2500,
        expiry: (await now()) + 600n,
        nonce: boostNonce('scan', 1),
      },
    });
    await send(saved!, 'GhostCore', 'applyBoost', [
      0,
      2500,
      (await now()) + 600n,
      boostNonce('scan', 1),
      signature,
    ]);
    const dies = (user: Address) => roll(user) < (user === saved!.address ? 2000n : 4500n);
    victims = cohort.map((p) => p.address).filter(dies);
    survivors = cohort.map((p) => p.address).filter((a) => !dies(a));
    expect(victims.length).toBeGreaterThan(0);
    expect(survivors.length).toBeGreaterThan(0);
    for (const v of victims) expect(await read('TraceScan', 'wouldDie', [LEVEL, v])).toBe(true);
    for (const s of survivors) expect(await read('TraceScan', 'wouldDie', [LEVEL, s])).toBe(false);

    // A survivor in the list makes the whole batch revert: the input is always exactly the victims.
    expect(await revertOf(owner, 'TraceScan', 'submitDeaths', [LEVEL, [...victims, survivors[0]!]])).toBe(
      'UserShouldNotDie',
    );
    expect(await revertOf(owner, 'TraceScan', 'submitDeaths', [LEVEL, [victims[0]!, victims[0]!]])).toBe(
      'PositionDead',
    );

    const amounts = await Promise.all(
      victims.map((v) => read<{ amount: bigint }>('GhostCore', 'getPosition', [v])),
    );
    const receipt = await send(owner, 'TraceScan', 'submitDeaths', [LEVEL, victims]);
    const events = eventsOf(receipt);
    expect(events.map((e) => e.eventName)).toEqual(['DeathsProcessed', 'DeathsSubmitted']);
    const totalDead = amounts.reduce((sum, p) => sum + p.amount, 0n);
    expect(events[0]!.args).toEqual({
      level: LEVEL,
      count: BigInt(victims.length),
      totalDead,
      burned: 0n,
      distributed: 0n,
    });
    expect(events[1]!.args).toMatchObject({
      level: LEVEL,
      scanId: 1n,
      count: BigInt(victims.length),
      totalDead,
    });

    for (const v of victims) expect(await read('GhostCore', 'isAlive', [v])).toBe(false);
    for (const s of survivors) expect(await read('GhostCore', 'isAlive', [s])).toBe(true);
  });

  it('finalizes only after the window, with cascade, survivors and +1 streak for every survivor', async () => {
    expect(await revertOf(owner, 'TraceScan', 'finalizeScan', [LEVEL])).toBe('SubmissionWindowOpen');
    expect(await read('TraceScan', 'canFinalizeScan', [LEVEL])).toBe(false);
    expect(await read('TraceScan', 'canExecuteScan', [LEVEL])).toBe(false);
    const scan = await read<{ executedAt: bigint }>('TraceScan', 'getCurrentScan', [LEVEL]);
    await warpTo(scan.executedAt + 120n);
    expect(await revertOf(owner, 'TraceScan', 'submitDeaths', [LEVEL, survivors.slice(0, 1)])).toBe(
      'SubmissionWindowClosed',
    );
    expect(await read('TraceScan', 'canFinalizeScan', [LEVEL])).toBe(true);
    const receipt = await send(owner, 'TraceScan', 'finalizeScan', [LEVEL]);
    const events = eventsOf(receipt);
    expect(events.map((e) => e.eventName)).toEqual([
      'CascadeDistributed',
      'SurvivorsUpdated',
      'ScanFinalized',
    ]);
    expect(events[1]!.args).toEqual({ level: LEVEL, count: BigInt(survivors.length) });
    expect(events[2]!.args).toMatchObject({ level: LEVEL, scanId: 1n, deathCount: BigInt(victims.length) });

    for (const s of survivors) {
      const position = await read<{ ghostStreak: number; alive: boolean }>('GhostCore', 'getPosition', [s]);
      expect(position).toMatchObject({ ghostStreak: 1, alive: true });
    }
    for (const v of victims) {
      const position = await read<{ amount: bigint; alive: boolean; level: number }>(
        'GhostCore',
        'getPosition',
        [v],
      );
      expect(position).toMatchObject({ amount: 250n * DATA, alive: false, level: LEVEL, ghostStreak: 0 });
    }
    const state = await read<{ nextScanTime: bigint; aliveCount: bigint }>('GhostCore', 'getLevelState', [
      LEVEL,
    ]);
    expect(state.nextScanTime).toBe((await now()) + 1800n);
    expect(state.aliveCount).toBe(BigInt(survivors.length));
  });

  it('never lets a traced address jack in again', async () => {
    const victim = cohort.find((p) => p.address === victims[0])!;
    expect(await revertOf(victim, 'GhostCore', 'jackIn', [250n * DATA, 1])).toBe('PositionAlreadyExists');
  });

  it('locks extraction from 60 s before the next scan until it is due', async () => {
    const survivor = cohort.find((p) => p.address === survivors[0])!;
    const next = (await read<{ nextScanTime: bigint }>('GhostCore', 'getLevelState', [LEVEL])).nextScanTime;
    await warpTo(next - 61n);
    expect(await revertOf(survivor, 'GhostCore', 'extract')).toBeUndefined();
    await warpTo(next - 60n);
    expect(await revertOf(survivor, 'GhostCore', 'extract')).toBe('PositionLocked');
    await warpTo(next);
    expect(await revertOf(survivor, 'GhostCore', 'extract')).toBeUndefined();
    const receipt = await send(survivor, 'GhostCore', 'extract');
    const [extracted] = eventsOf(receipt);
    expect(extracted).toMatchObject({
      eventName: 'Extracted',
      args: { user: survivor.address, amount: 250n * DATA },
    });
    // Survivors share 30% of the dead capital, so a survivor extracts with rewards.
    expect(extracted!.args.rewards as bigint).toBeGreaterThan(0n);
    expect(await read('GhostCore', 'getPosition', [survivor.address])).toMatchObject({
      amount: 0n,
      level: 0,
    });
  });
});

describe('culling', () => {
  it('culls the first position of a full level before the new entrant jacks in', async () => {
    const LEVEL = 2;
    const config = await read<Record<string, unknown>>('GhostCore', 'getLevelConfig', [LEVEL]);
    await send(owner, 'GhostCore', 'updateLevelConfig', [LEVEL, { ...config, maxPositions: 2 }]);
    const [a, b, c] = [players[18]!, players[19]!, players[20]!];
    await send(a, 'GhostCore', 'jackIn', [100n * DATA, LEVEL]);
    await send(b, 'GhostCore', 'jackIn', [200n * DATA, LEVEL]);
    const balanceBefore = await read<bigint>('DataToken', 'balanceOf', [a.address]);

    const events = eventsOf(await send(c, 'GhostCore', 'jackIn', [300n * DATA, LEVEL]));
    expect(events.map((e) => e.eventName)).toEqual(['PositionCulled', 'JackedIn']);
    expect(events[0]!.args).toEqual({
      victim: a.address,
      penaltyAmount: 80n * DATA,
      returnedAmount: 20n * DATA,
      newEntrant: c.address,
    });
    expect(await read<bigint>('DataToken', 'balanceOf', [a.address])).toBe(balanceBefore + 20n * DATA);
    expect(await read('GhostCore', 'isAlive', [a.address])).toBe(false);
    expect(await read('GhostCore', 'isCulled', [a.address])).toBe(true);
    expect(await read('GhostCore', 'getPosition', [a.address])).toMatchObject({
      amount: 100n * DATA,
      level: LEVEL,
    });
    expect(await revertOf(a, 'GhostCore', 'jackIn', [100n * DATA, 1])).toBe('PositionAlreadyExists');
    expect(await read('GhostCore', 'getLevelPositions', [LEVEL])).toEqual([b.address, c.address]);
  });
});

describe('system reset', () => {
  it('is refused before the deadline, then takes 25% of every alive position lazily', async () => {
    const alive = players.filter((_, i) => i >= 19);
    const before = await Promise.all(
      alive.map((p) => read<{ amount: bigint }>('GhostCore', 'getPosition', [p.address])),
    );
    const tvl = await read<bigint>('GhostCore', 'getTotalValueLocked');
    expect(await revertOf(owner, 'GhostCore', 'triggerSystemReset')).toBe('SystemResetNotReady');
    const { deadline } = await read<{ deadline: bigint }>('GhostCore', 'getSystemReset');
    await warpTo(deadline);

    const events = eventsOf(await send(owner, 'GhostCore', 'triggerSystemReset'));
    expect(events.map((e) => e.eventName)).toEqual(['SystemResetTriggered']);
    const penalty = tvl - (await read<bigint>('GhostCore', 'getTotalValueLocked'));
    expect(events[0]!.args).toEqual({
      totalPenalty: penalty,
      jackpotWinner: '0x0000000000000000000000000000000000000000',
      jackpotAmount: penalty / 2n,
    });
    expect(penalty).toBeGreaterThanOrEqual(tvl / 4n);
    expect(penalty).toBeLessThanOrEqual(tvl / 4n + 5n);
    for (const [i, p] of alive.entries()) {
      const after = await read<{ amount: bigint }>('GhostCore', 'getPosition', [p.address]);
      expect(after.amount).toBe((before[i]!.amount * 7500n) / 10_000n);
    }
    // The dead keep the amount they died with.
    const culled = await read<{ amount: bigint }>('GhostCore', 'getPosition', [players[18]!.address]);
    expect(culled.amount).toBe(100n * DATA);
  });
});
