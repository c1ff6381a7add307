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

/**
 * Whether the chain would accept what this API signs: the RPC's chain is the one the domain names, and
 * GhostCore's boostSigner is the signer's address. Otherwise every boost handed out reverts in applyBoost
 * (InvalidSignature) while the API reports it valid. `unreachable` when the RPC does not answer: the
 * mini-game answers 503 until it does, and a mismatch cannot be told yet.
 */
export type SignerSetup =
  | { ok: true }
  | { ok: false; problem: string }
  | { ok: 'unreachable'; error: string };

export async function checkSignerSetup(
  client: PublicClient,
  expected: { chainId: number; ghostCore: Address; signer: Address },
): Promise<SignerSetup> {
  let chainId: number;
  let signer: Address;
  try {
    [chainId, signer] = await Promise.all([
      client.getChainId(),
      client.readContract({ address: expected.ghostCore, abi: ghostCoreAbi, functionName: 'boostSigner' }),
    ]);
  } catch (error) {
    return { ok: 'unreachable', error: (error as Error).message.split('\n')[0]! };
  }
  if (chainId !== expected.chainId)
    return { ok: false, problem: `RPC_URL serves chain ${chainId}, CHAIN_ID is ${expected.chainId}` };
  if (signer.toLowerCase() !== expected.signer.toLowerCase())
    return {
      ok: false,
      problem: `GhostCore ${expected.ghostCore} accepts boosts signed by ${signer}; BOOST_SIGNER_PRIVATE_KEY is the key of ${expected.signer}`,
    };
  return { ok: true };
}

/**
 * `boostContext` that reads nothing for a boost until the signer has been checked against the chain: when the
 * RPC did not answer at start, the check runs again on the next result that could earn a boost (which fails
 * with the route's 503 meanwhile). A mismatch found then is logged once and every boost refused (503) until
 * the configuration is fixed and the API restarted: signing would hand out boosts GhostCore reverts.
 */
export function signerCheckedBoostContext(
  boostContext: (user: Address) => Promise<BoostContext>,
  check: () => Promise<SignerSetup>,
  atStart: SignerSetup,
  onMismatch: (problem: string) => void,
): (user: Address) => Promise<BoostContext> {
  let state = atStart;
  return async (user) => {
    if (state.ok === 'unreachable') {
      state = await check();
      if (state.ok === false) onMismatch(state.problem);
    }
    if (state.ok === 'unreachable') throw new Error(`cannot check the boost signer yet: ${state.error}`);
    if (state.ok === false) throw new Error(`the boost signer does not match the chain: ${state.problem}`);
    return boostContext(user);
  };
}
