import { z } from 'zod';
import { BoostTypeName, LevelName } from '../enums.ts';
import { Address, TimestampMs, Uint } from '../primitives.ts';

/**
 * A boost GhostCore counts for the player right now: applied on chain (BoostApplied), not deleted by an extract,
 * and `expiresAt` later than the chain's time as of the position's sequence (the contract's `getActiveBoosts`).
 */
export const ActiveBoost = z.object({
  type: BoostTypeName,
  valueBps: z.number().int().nonnegative(),
  expiresAt: TimestampMs,
});
export type ActiveBoost = z.infer<typeof ActiveBoost>;

/**
 * The frontend's data-provider contract (facts file, "What the game's frontend expects"), plus `boosts`: what
 * a mini-game win changed, so the player's POSITION_UPDATE shows it (a field the frontend may ignore).
 */
export const Position = z.object({
  id: z.string(),
  address: Address,
  level: LevelName,
  stakedAmount: Uint,
  entryTimestamp: TimestampMs,
  earnedYield: Uint,
  ghostStreak: z.number().int().nonnegative(),
  nextScanTimestamp: TimestampMs.nullable(),
  boosts: z.array(ActiveBoost),
});
export type Position = z.infer<typeof Position>;

export const LevelStats = z.object({
  level: LevelName,
  operatorCount: z.number().int().nonnegative(),
  totalStaked: Uint,
  baseDeathRate: z.number().int().nonnegative(),
  effectiveDeathRate: z.number().int().nonnegative(),
  nextScanTimestamp: TimestampMs.nullable(),
});
export type LevelStats = z.infer<typeof LevelStats>;

export const NetworkState = z.object({
  tvl: Uint,
  tvlCapacity: Uint,
  operatorsOnline: z.number().int().nonnegative(),
  operatorsAth: z.number().int().nonnegative(),
  systemResetTimestamp: TimestampMs.nullable(),
  traceScanTimestamps: z.record(LevelName, TimestampMs.nullable()),
  burnRatePerHour: Uint,
  hourlyStats: z.object({ jackedIn: Uint, extracted: Uint, traced: Uint }),
});
export type NetworkState = z.infer<typeof NetworkState>;

const feed = <T extends string, D extends z.ZodRawShape>(type: T, data: D) =>
  z.object({ id: z.string(), type: z.literal(type), timestamp: TimestampMs, data: z.object(data) });

export const FeedEvent = z.discriminatedUnion('type', [
  feed('JACK_IN', { address: Address, level: LevelName, amount: Uint }),
  feed('EXTRACT', { address: Address, amount: Uint, gain: Uint }),
  feed('TRACED', { address: Address, level: LevelName, amountLost: Uint }),
  feed('SURVIVED', { address: Address, level: LevelName, streak: z.number().int().nonnegative() }),
  feed('TRACE_SCAN_WARNING', { level: LevelName, secondsUntil: z.number().int().nonnegative() }),
  feed('TRACE_SCAN_START', { level: LevelName }),
  feed('TRACE_SCAN_COMPLETE', {
    level: LevelName,
    survivors: z.number().int().nonnegative(),
    traced: z.number().int().nonnegative(),
  }),
  feed('CASCADE', { sourceLevel: LevelName, burned: Uint, distributed: Uint }),
  feed('WHALE_ALERT', { address: Address, level: LevelName, amount: Uint }),
  feed('SYSTEM_RESET_WARNING', { secondsUntil: z.number().int().nonnegative() }),
  feed('SYSTEM_RESET', { penaltyPercent: z.number(), jackpotWinner: Address }),
  feed('CREW_EVENT', { crewName: z.string(), eventType: z.string(), message: z.string() }),
  feed('MINIGAME_RESULT', {
    address: Address,
    game: z.string(),
    result: z.object({
      valid: z.boolean(),
      wpm: z.number(),
      accuracy: z.number(),
      boostBps: z.number().int().nonnegative().nullable(),
    }),
  }),
  feed('JACKPOT', { address: Address, level: LevelName, amount: Uint }),
]);
export type FeedEvent = z.infer<typeof FeedEvent>;
export type FeedEventType = FeedEvent['type'];
