import type { LevelStats, NetworkState, Position } from '@ghostnet/events';
import type {
  CrewStats,
  FeedPage,
  LeaderboardEntry,
  LeaderboardPeriod,
  LeaderboardType,
  PositionRecord,
  SequencedFeedEvent,
  UserProfile,
} from '@ghostnet/projections';

export type {
  CrewStats,
  FeedPage,
  LeaderboardEntry,
  LeaderboardPeriod,
  LeaderboardType,
  PositionRecord,
  SequencedFeedEvent,
  UserProfile,
};

export interface Membership {
  crewId: string;
  crewName: string;
  crewTag: string;
  role: 'leader' | 'officer' | 'member';
  joinedAt: number;
}

export interface Profile {
  user: UserProfile | null;
  position: Position | null;
  crew: Membership | null;
}

interface AsOfSeq {
  asOfSequenceId: number;
}

/**
 * What the API reads from the projector's tables. The API keeps no read model of its own: this port is
 * @ghostnet/projections' readers (read/projectionsReadModel.ts), narrowed to what the routes use so that unit
 * tests can put a fake behind it.
 */
export interface ReadModel {
  /**
   * Identifies the state of every projection the API reads (generation and applied sequence); it changes
   * whenever any of them moves, so cached answers keyed by it are never older than the projections.
   */
  checkpoint(): Promise<string>;
  user(address: string): Promise<UserProfile | null>;
  /**
   * Everything GET /users/:address shows, in one statement (the hot path): the player's totals and live
   * position (as readUser/readPosition report them) and their crew membership.
   */
  profile(address: string): Promise<Profile>;
  position(address: string): Promise<Position | null>;
  history(
    address: string,
    page: { limit: number; offset: number },
  ): Promise<{ positions: PositionRecord[]; total: number }>;
  leaderboard(query: {
    type: LeaderboardType;
    period: LeaderboardPeriod;
    limit: number;
  }): Promise<AsOfSeq & { entries: LeaderboardEntry[] }>;
  levelStats(): Promise<AsOfSeq & { levels: LevelStats[] }>;
  networkState(): Promise<AsOfSeq & { networkState: NetworkState | null }>;
  /** With the stream epoch: `(epoch, asOfSequenceId)` is the cursor a WebSocket resumes from. */
  recentFeed(page: {
    limit: number;
    beforeSequence?: number;
  }): Promise<AsOfSeq & { epoch: string | null } & FeedPage>;
  /** Crew stats with global ranks; `crewIds` narrows, `limit` caps (≤ 1000). */
  crewStats(options: { crewIds?: string[]; limit: number }): Promise<AsOfSeq & { crews: CrewStats[] }>;
}
