import { ghostCoreAbi, traceScanAbi } from '@ghostnet/contracts';
import { LEVELS, type LevelName } from '@ghostnet/events';
import type { Address, PublicClient } from 'viem';
import type { Reduction } from './rules.ts';

/** What deciding a boost needs to know about the player, as of now. */
export interface BoostContext {
  alive: boolean;
  level: LevelName | null;
  /** A scan of the player's level executed and not finalized: its seed is public, no signing. */
  scanPending: boolean;
  /** Active DEATH_REDUCTION boosts, for the 3500 bps cap (with the signatures not applied yet). */
  activeDeathReductions: Reduction[];
  /** Unix seconds of the next scan of the player's level. */
  nextScanTime: number | null;
}

/** The contracts' own view of a player: always current, read with one round of calls. */
export function createChainState(
  client: PublicClient,
  addresses: { GhostCore: Address; TraceScan: Address },
) {
  return {
    async boostContext(user: Address): Promise<BoostContext> {
      const position = await client.readContract({
        address: addresses.GhostCore,
        abi: ghostCoreAbi,
        functionName: 'getPosition',
        args: [user],
      });
      if (!position.alive || position.level === 0) {
        return {
          alive: false,
          level: null,
          scanPending: false,
          activeDeathReductions: [],
          nextScanTime: null,
        };
      }
      const [scan, boosts, nextScanTime, block] = await Promise.all([
        client.readContract({
          address: addresses.TraceScan,
          abi: traceScanAbi,
          functionName: 'getCurrentScan',
          args: [position.level],
        }),
        client.readContract({
          address: addresses.GhostCore,
          abi: ghostCoreAbi,
          functionName: 'getActiveBoosts',
          args: [user],
        }),
        client.readContract({
          address: addresses.GhostCore,
          abi: ghostCoreAbi,
          functionName: 'nextScanTime',
          args: [position.level],
        }),
        client.getBlock(),
      ]);
      const now = block.timestamp;
      const activeDeathReductions = boosts
        .filter((b) => b.boostType === 0 && b.expiry > now)
        .map((b) => ({ valueBps: b.valueBps, expiry: Number(b.expiry) }));
      return {
        alive: true,
        level: LEVELS[position.level] as LevelName,
        scanPending: scan.active && !scan.finalized,
        activeDeathReductions,
        nextScanTime: Number(nextScanTime),
      };
    },
  };
}
export type ChainState = ReturnType<typeof createChainState>;
