import { dataTokenAbi, ghostCoreAbi, traceScanAbi } from '@ghostnet/contracts';
import {
  type AbiEvent,
  type Address,
  decodeFunctionResult,
  encodeAbiParameters,
  encodeFunctionData,
  type Hex,
  keccak256,
  toEventSelector,
} from 'viem';
import type { JsonRpc } from './rpc.ts';

export const GAME_EVENT_NAMES = [
  'JackedIn',
  'StakeAdded',
  'Extracted',
  'DeathsProcessed',
  'SurvivorsUpdated',
  'CascadeDistributed',
  'EmissionsAdded',
  'BoostApplied',
  'SystemResetTriggered',
  'PositionCulled',
  'ScanExecuted',
  'DeathsSubmitted',
  'ScanFinalized',
] as const;
export type GameEventName = (typeof GAME_EVENT_NAMES)[number];

/** topic0 → event name, from the compiled contracts' own ABIs. */
export const GAME_EVENT_BY_TOPIC: ReadonlyMap<string, GameEventName> = new Map(
  ([...ghostCoreAbi, ...traceScanAbi] as readonly { type: string }[])
    .filter((item): item is AbiEvent => item.type === 'event')
    .map((event) => [toEventSelector(event), event.name as GameEventName]),
);

export function emptyCounts(): Record<GameEventName, number> {
  return Object.fromEntries(GAME_EVENT_NAMES.map((n) => [n, 0])) as Record<GameEventName, number>;
}

/** The death rule of the facts file: `keccak256(abi.encode(seed, user)) % 10000 < rate`. */
export function deathRoll(seed: bigint, user: Address): number {
  const hash = keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'address' }], [seed, user]));
  return Number(BigInt(hash) % 10_000n);
}

export const encode = {
  jackIn: (amount: bigint, level: number) =>
    encodeFunctionData({ abi: ghostCoreAbi, functionName: 'jackIn', args: [amount, level] }),
  addStake: (amount: bigint) =>
    encodeFunctionData({ abi: ghostCoreAbi, functionName: 'addStake', args: [amount] }),
  extract: () => encodeFunctionData({ abi: ghostCoreAbi, functionName: 'extract' }),
  applyBoost: (boostType: number, valueBps: number, expiry: bigint, nonce: Hex, signature: Hex) =>
    encodeFunctionData({
      abi: ghostCoreAbi,
      functionName: 'applyBoost',
      args: [boostType, valueBps, expiry, nonce, signature],
    }),
  triggerSystemReset: () => encodeFunctionData({ abi: ghostCoreAbi, functionName: 'triggerSystemReset' }),
  addEmissions: (level: number, amount: bigint) =>
    encodeFunctionData({ abi: ghostCoreAbi, functionName: 'addEmissions', args: [level, amount] }),
  setNextScanTime: (level: number, time: bigint) =>
    encodeFunctionData({ abi: ghostCoreAbi, functionName: 'setNextScanTime', args: [level, time] }),
  updateLevelConfig: (level: number, config: LevelConfigValue) =>
    encodeFunctionData({ abi: ghostCoreAbi, functionName: 'updateLevelConfig', args: [level, config] }),
  executeScan: (level: number) =>
    encodeFunctionData({ abi: traceScanAbi, functionName: 'executeScan', args: [level] }),
  submitDeaths: (level: number, users: Address[]) =>
    encodeFunctionData({ abi: traceScanAbi, functionName: 'submitDeaths', args: [level, users] }),
  finalizeScan: (level: number) =>
    encodeFunctionData({ abi: traceScanAbi, functionName: 'finalizeScan', args: [level] }),
  mintBatch: (to: Address[], amount: bigint) =>
    encodeFunctionData({ abi: dataTokenAbi, functionName: 'mintBatch', args: [to, amount] }),
  mint: (to: Address, amount: bigint) =>
    encodeFunctionData({ abi: dataTokenAbi, functionName: 'mint', args: [to, amount] }),
  approve: (spender: Address, amount: bigint) =>
    encodeFunctionData({ abi: dataTokenAbi, functionName: 'approve', args: [spender, amount] }),
};

export interface LevelConfigValue {
  baseDeathRateBps: number;
  scanInterval: number;
  minStake: bigint;
  maxPositions: number;
  cullingBottomPct: number;
  cullingPenaltyBps: number;
}

export interface ChainPosition {
  amount: bigint;
  level: number;
  entryTimestamp: bigint;
  lastAddTimestamp: bigint;
  rewardDebt: bigint;
  alive: boolean;
  ghostStreak: number;
}

export interface ChainScan {
  scanId: bigint;
  seed: bigint;
  executedAt: bigint;
  finalizedAt: bigint;
  totalDeadCapital: bigint;
  deathCount: bigint;
  active: boolean;
  finalized: boolean;
}

const abis = { GhostCore: ghostCoreAbi, TraceScan: traceScanAbi, DataToken: dataTokenAbi } as const;
type ContractName = keyof typeof abis;

export interface ViewCall {
  contract: ContractName;
  functionName: string;
  args?: readonly unknown[];
}

/** Many eth_calls in one batch request, decoded with the contracts' ABIs. */
export async function readMany(
  rpc: JsonRpc,
  addresses: Record<ContractName, Address>,
  calls: ViewCall[],
  blockTag = 'latest',
): Promise<unknown[]> {
  const raw = await rpc.batch(
    calls.map((c) => ({
      method: 'eth_call',
      params: [
        {
          to: addresses[c.contract],
          data: encodeFunctionData({
            abi: abis[c.contract],
            functionName: c.functionName,
            args: c.args,
          } as never),
        },
        blockTag,
      ],
    })),
  );
  return raw.map((data, i) =>
    decodeFunctionResult({
      abi: abis[calls[i]!.contract],
      functionName: calls[i]!.functionName,
      data: data as Hex,
    } as never),
  );
}
