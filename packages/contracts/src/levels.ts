/** Level numbers as GhostCore encodes them (uint8); 0 = NONE. */
export const LEVEL = { VAULT: 1, MAINFRAME: 2, SUBNET: 3, DARKNET: 4, BLACK_ICE: 5 } as const;
export type LevelNumber = (typeof LEVEL)[keyof typeof LEVEL];
export const LEVEL_NUMBERS: readonly LevelNumber[] = [1, 2, 3, 4, 5];
export const LEVEL_NAMES = ['NONE', 'VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE'] as const;

export interface LevelConfig {
  baseDeathRateBps: number;
  scanInterval: number;
  minStake: bigint;
  maxPositions: number;
  cullingBottomPct: number;
  cullingPenaltyBps: number;
}

const DATA = 10n ** 18n;

/** GhostCore's configuration at deployment (facts file table); owner-settable with updateLevelConfig. */
export const DEFAULT_LEVEL_CONFIGS: Readonly<Record<LevelNumber, LevelConfig>> = {
  1: level(500, 4 * 3600, 10n * DATA, 5000),
  2: level(1500, 3 * 3600, 25n * DATA, 3000),
  3: level(2500, 2 * 3600, 50n * DATA, 1500),
  4: level(3500, 3600, 100n * DATA, 500),
  5: level(4500, 1800, 250n * DATA, 100),
};

function level(baseDeathRateBps: number, scanInterval: number, minStake: bigint, maxPositions: number) {
  return {
    baseDeathRateBps,
    scanInterval,
    minStake,
    maxPositions,
    cullingBottomPct: 5000,
    cullingPenaltyBps: 8000,
  };
}

/** Game constants the backend and the simulator mirror. */
export const GAME = {
  LOCK_PERIOD_S: 60,
  SUBMISSION_WINDOW_S: 120,
  MAX_BATCH_SIZE: 100,
  RESET_PENALTY_BPS: 2500,
  MAX_RESET_DEADLINE_S: 24 * 3600,
} as const;
