export * from './checkpointNotices.ts';
export * from './context.ts';
export * from './crews.ts';
export * from './feed.ts';
export {
  type NetworkStateOptions,
  type PositionEvent,
  type PositionRecord,
  readLevelStats,
  readNetworkState,
  readPosition,
  readPositionEvents,
  readUser,
  readUserHistory,
  type UserProfile,
} from './game.ts';
export * from './leaderboard.ts';
export * from './snapshot.ts';
