import { z } from 'zod';

/** Solidity `Level`, index = on-chain uint8. NONE (0) never appears in an event. */
export const LEVELS = ['NONE', 'VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE'] as const;
export const LevelName = z.enum(['VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE']);
export type LevelName = z.infer<typeof LevelName>;

export const BOOST_TYPES = ['DEATH_REDUCTION', 'YIELD_MULTIPLIER'] as const;
export const BoostTypeName = z.enum(BOOST_TYPES);
export type BoostTypeName = z.infer<typeof BoostTypeName>;

export function levelIndex(name: LevelName): number {
  return LEVELS.indexOf(name);
}
