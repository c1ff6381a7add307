export const PROFILE_NAMES = ['whale', 'grinder', 'degen', 'casual', 'sniper'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** How a kind of player behaves. Probabilities are per turn; a player may get several turns per block. */
export interface Profile {
  name: ProfileName;
  /** Chance to do anything on a turn. */
  activity: number;
  /** Weights of levels 1..5 when jacking in. */
  levelWeights: readonly [number, number, number, number, number];
  /** Stake range in whole DATA (raised to the level's minimum). */
  stake: readonly [number, number];
  /** Given an alive position and a turn: chances to add stake, extract, play the mini-game (boost). */
  addStake: number;
  extract: number;
  boost: number;
  /** Boost sizes (bps) this player's mini-game results give. */
  boostBps: readonly number[];
}

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  // Big, safe, patient: deep stakes in the safe levels, tops up, rarely leaves.
  whale: {
    name: 'whale',
    activity: 0.35,
    levelWeights: [5, 3, 1, 0, 0],
    stake: [2_000, 20_000],
    addStake: 0.35,
    extract: 0.04,
    boost: 0.05,
    boostBps: [500, 1000],
  },
  // Mid levels, plays the mini-game a lot to keep the death rate down, extracts now and then.
  grinder: {
    name: 'grinder',
    activity: 0.6,
    levelWeights: [1, 3, 4, 1, 0],
    stake: [50, 800],
    addStake: 0.15,
    extract: 0.1,
    boost: 0.12,
    boostBps: [1000, 1500, 2000, 2500],
  },
  // High risk, high churn: darknet and black ice, in and out.
  degen: {
    name: 'degen',
    activity: 0.8,
    levelWeights: [0, 0, 1, 4, 5],
    stake: [100, 2_000],
    addStake: 0.2,
    extract: 0.3,
    boost: 0.05,
    boostBps: [500, 1000, 1500],
  },
  // Minimum stakes anywhere, acts rarely.
  casual: {
    name: 'casual',
    activity: 0.2,
    levelWeights: [2, 2, 2, 1, 1],
    stake: [10, 300],
    addStake: 0.1,
    extract: 0.15,
    boost: 0.05,
    boostBps: [500, 1000],
  },
  // Enters the risky levels right after a scan and leaves just before the lock: the timing game.
  sniper: {
    name: 'sniper',
    activity: 0.7,
    levelWeights: [0, 0, 0, 1, 1],
    stake: [250, 1_500],
    addStake: 0.05,
    extract: 0,
    boost: 0.02,
    boostBps: [500],
  },
};

/**
 * Profile of player slot `i` of `n`: a fixed mix (10% whales, 15% snipers, 25% each of the others); with
 * fewer than ten players, one of each in turn so every profile still plays.
 */
export function profileOfSlot(i: number, n: number): ProfileName {
  if (n < 10) return PROFILE_NAMES[i % PROFILE_NAMES.length]!;
  const x = (i + 0.5) / n;
  if (x < 0.1) return 'whale';
  if (x < 0.35) return 'grinder';
  if (x < 0.6) return 'degen';
  if (x < 0.85) return 'casual';
  return 'sniper';
}
