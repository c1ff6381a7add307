import type { Projection } from '../runtime/types.ts';
import { crewsProjection } from './crews.ts';
import { feedProjection } from './feed.ts';
import { gameProjection } from './game.ts';
import { leaderboardsProjection } from './leaderboards.ts';
import { scansProjection } from './scans.ts';

export { crewsProjection, feedProjection, gameProjection, leaderboardsProjection, scansProjection };

/** Every projection the projector runs, in no particular order (each has its own consumer and checkpoint). */
export const ALL_PROJECTIONS: readonly Projection[] = [
  feedProjection,
  gameProjection,
  scansProjection,
  leaderboardsProjection,
  crewsProjection,
];
