import { z } from 'zod';
import { BoostTypeName, LevelName } from '../enums.ts';
import { Address, ChainId, Hash, TimestampMs, Uint } from '../primitives.ts';

const u16 = z.number().int().min(0).max(65535);

/** Args of each event, as decoded: names and order are the contract's. */
export const chainEventArgs = {
  JackedIn: z.object({ user: Address, amount: Uint, level: LevelName, newTotal: Uint }),
  StakeAdded: z.object({ user: Address, amount: Uint, newTotal: Uint }),
  Extracted: z.object({ user: Address, amount: Uint, rewards: Uint }),
  DeathsProcessed: z.object({
    level: LevelName,
    count: Uint,
    totalDead: Uint,
    burned: Uint,
    distributed: Uint,
  }),
  SurvivorsUpdated: z.object({ level: LevelName, count: Uint }),
  CascadeDistributed: z.object({
    sourceLevel: LevelName,
    sameLevelAmount: Uint,
    upstreamAmount: Uint,
    burnAmount: Uint,
    protocolAmount: Uint,
  }),
  EmissionsAdded: z.object({ level: LevelName, amount: Uint }),
  BoostApplied: z.object({ user: Address, boostType: BoostTypeName, valueBps: u16, expiry: TimestampMs }),
  SystemResetTriggered: z.object({ totalPenalty: Uint, jackpotWinner: Address, jackpotAmount: Uint }),
  PositionCulled: z.object({
    victim: Address,
    penaltyAmount: Uint,
    returnedAmount: Uint,
    newEntrant: Address,
  }),
  ScanExecuted: z.object({ level: LevelName, scanId: Uint, seed: Uint, executedAt: TimestampMs }),
  DeathsSubmitted: z.object({
    level: LevelName,
    scanId: Uint,
    count: Uint,
    totalDead: Uint,
    submitter: Address,
  }),
  ScanFinalized: z.object({
    level: LevelName,
    scanId: Uint,
    deathCount: Uint,
    totalDead: Uint,
    finalizedAt: TimestampMs,
  }),
} as const;

export type ChainEventName = keyof typeof chainEventArgs;
export const CHAIN_EVENT_NAMES = Object.keys(chainEventArgs) as ChainEventName[];

export const CONTRACT_OF: Record<ChainEventName, 'GhostCore' | 'TraceScan'> = {
  JackedIn: 'GhostCore',
  StakeAdded: 'GhostCore',
  Extracted: 'GhostCore',
  DeathsProcessed: 'GhostCore',
  SurvivorsUpdated: 'GhostCore',
  CascadeDistributed: 'GhostCore',
  EmissionsAdded: 'GhostCore',
  BoostApplied: 'GhostCore',
  SystemResetTriggered: 'GhostCore',
  PositionCulled: 'GhostCore',
  ScanExecuted: 'TraceScan',
  DeathsSubmitted: 'TraceScan',
  ScanFinalized: 'TraceScan',
};

/**
 * Facts the log lacks but the chain has, added by the ingester so that every consumer sees the same ones.
 * DeathsSubmitted: the victims, decoded from the submitDeaths call of the same transaction, with the stake
 * each one lost (their position amount as of that block).
 */
export const Victim = z.object({ address: Address, amountLost: Uint });
export const chainEventEnrichment = {
  DeathsSubmitted: z.object({ victims: z.array(Victim) }),
  /** ScanFinalized: the survivor count of the SurvivorsUpdated log emitted just before it, same transaction. */
  ScanFinalized: z.object({ survivors: Uint }),
  /**
   * SystemResetTriggered: who won the jackpot. The event's own `jackpotWinner` is always the zero address
   * (emitted after the last depositor is cleared); the jackpot is the DATA transfer of `jackpotAmount` from
   * GhostCore earlier in the same transaction. null: nobody (no deposit since the last reset: the treasury got
   * it, or the amount was 0). `level`: the winner's level as of that block (null without a live position).
   * Absent on messages appended before the ingester added it.
   */
  SystemResetTriggered: z.object({
    jackpotWinner: Address.nullable(),
    jackpotWinnerLevel: LevelName.nullable(),
  }),
} as const;

const base = {
  v: z.literal(1),
  kind: z.literal('chain'),
  /** `<chainId>:<blockHash>:<logIndex>`, also the Nats-Msg-Id. */
  id: z.string().regex(/^[0-9]+:0x[0-9a-f]{64}:[0-9]+$/),
  chainId: ChainId,
  block: z.object({ number: z.number().int().nonnegative(), hash: Hash, timestamp: TimestampMs }),
  tx: z.object({ hash: Hash, index: z.number().int().nonnegative(), from: Address }),
  logIndex: z.number().int().nonnegative(),
  address: Address,
  observedAt: TimestampMs,
};

function variant<N extends ChainEventName>(name: N) {
  return z.object({
    ...base,
    contract: z.literal(CONTRACT_OF[name]),
    name: z.literal(name),
    args: chainEventArgs[name],
  });
}

export const ChainEnvelope = z.discriminatedUnion('name', [
  variant('JackedIn'),
  variant('StakeAdded'),
  variant('Extracted'),
  variant('DeathsProcessed'),
  variant('SurvivorsUpdated'),
  variant('CascadeDistributed'),
  variant('EmissionsAdded'),
  variant('BoostApplied'),
  z.object({
    ...base,
    contract: z.literal('GhostCore'),
    name: z.literal('SystemResetTriggered'),
    args: chainEventArgs.SystemResetTriggered,
    enrichment: chainEventEnrichment.SystemResetTriggered.optional(),
  }),
  variant('PositionCulled'),
  variant('ScanExecuted'),
  z.object({
    ...base,
    contract: z.literal('TraceScan'),
    name: z.literal('DeathsSubmitted'),
    args: chainEventArgs.DeathsSubmitted,
    enrichment: chainEventEnrichment.DeathsSubmitted,
  }),
  z.object({
    ...base,
    contract: z.literal('TraceScan'),
    name: z.literal('ScanFinalized'),
    args: chainEventArgs.ScanFinalized,
    enrichment: chainEventEnrichment.ScanFinalized,
  }),
]);
export type ChainEnvelope = z.infer<typeof ChainEnvelope>;
export type ChainEnvelopeOf<N extends ChainEventName> = Extract<ChainEnvelope, { name: N }>;
