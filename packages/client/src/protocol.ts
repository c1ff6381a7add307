import { FeedEvent, LevelName, LevelStats, NetworkState, Position } from '@ghostnet/events';
import { z } from 'zod';

/**
 * The gateway's WebSocket protocol: one JSON object per text frame, discriminated by `type`. Shared by the
 * gateway (which parses client frames with it) and the SDK (which parses server frames with it), and published
 * as JSON Schema in `schemas/`.
 *
 * Cursor rules (what makes resume exact):
 * - A cursor is `(epoch, sequenceId)`: the stream incarnation and the last stream sequence whose frames the
 *   client has *all* received.
 * - One stream message (sequence S) yields 0..n frames: FEED_EVENT with `index` 0..count-1 (a JackedIn can also
 *   raise a WHALE_ALERT; a scan's DeathsSubmitted yields one TRACED per victim), or one REORG. Messages that
 *   show nothing yield no frame. Frames always travel in (sequenceId, index) order.
 * - The client's cursor becomes S when it holds frame `count - 1` of S; REPLAY's `toSequenceId` and a live
 *   PONG's `sequenceId` also move it forward (past messages that showed nothing). A client drops any frame at
 *   or before the last (sequenceId, index) it holds, so a resume from a cursor inside a partly received message
 *   never duplicates.
 */

export const Sequence = z.number().int().nonnegative();
/** The stream incarnation (its creation time): a cursor from another epoch is never trusted. */
export const Epoch = z.string().min(1).max(64);

export const MAX_TOKEN_LENGTH = 4096;

// ─── client → server ────────────────────────────────────────────────────────────────────────────────────

export const AuthFrame = z.object({
  type: z.literal('AUTH'),
  token: z.string().min(1).max(MAX_TOKEN_LENGTH),
});
/**
 * Starts (or resumes) the feed. `lastSequenceId: null` (a client with no history) gets FULL_SYNC; a cursor of
 * the gateway's epoch with a gap under the replay limit gets REPLAY; anything else FULL_SYNC, a cursor without
 * `epoch` included (optional only so that `null` needs none). Both end with a REPLAY, after which the socket is
 * live.
 */
export const ReconnectFrame = z.object({
  type: z.literal('RECONNECT'),
  lastSequenceId: Sequence.nullable(),
  epoch: Epoch.optional(),
});
export const PingFrame = z.object({ type: z.literal('PING') });

export const ClientFrame = z.discriminatedUnion('type', [AuthFrame, ReconnectFrame, PingFrame]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export const CLIENT_FRAME_TYPES = ['AUTH', 'RECONNECT', 'PING'] as const;

// ─── server → client ────────────────────────────────────────────────────────────────────────────────────

export const ConnectionStatus = z.enum(['connected', 'reconnecting', 'error']);
export type ConnectionStatus = z.infer<typeof ConnectionStatus>;

export const ConnectionStateFrame = z.object({
  type: z.literal('CONNECTION_STATE'),
  status: ConnectionStatus,
  /** The authenticated address, or null on an anonymous public-feed socket. */
  address: z.string().nullable().optional(),
  epoch: Epoch.optional(),
  /** The last sequence this gateway has seen. */
  headSequenceId: Sequence.optional(),
  /** Why the state changed (e.g. `shutdown`). */
  reason: z.string().optional(),
});

export const FeedEventFrame = z.object({
  type: z.literal('FEED_EVENT'),
  sequenceId: Sequence,
  /** Position of this frame among the frames of its stream message, 0-based. */
  index: z.number().int().nonnegative(),
  /** How many frames its stream message yields. */
  count: z.number().int().positive(),
  event: FeedEvent,
  /**
   * For an event derived from another stream message (SURVIVED comes from a finalized scan): that message's
   * sequence. A REORG that orphans it orphans this event too.
   */
  sourceSequenceId: Sequence.optional(),
});
export type FeedEventFrame = z.infer<typeof FeedEventFrame>;

export const ReorgFrame = z.object({
  type: z.literal('REORG'),
  /** The reorg notice's own sequence: it is the only frame of that sequence. */
  sequenceId: Sequence,
  /**
   * Sequences whose events the chain dropped, with the events derived from them (`sourceSequenceId`); the
   * canonical events follow in the feed.
   */
  orphanedSequenceIds: z.array(Sequence),
});
export type ReorgFrame = z.infer<typeof ReorgFrame>;

/** Frames that carry the cursor: the live feed, and the contents of a REPLAY. */
export const SequencedFrame = z.discriminatedUnion('type', [FeedEventFrame, ReorgFrame]);
export type SequencedFrame = z.infer<typeof SequencedFrame>;

export const PositionUpdateFrame = z.object({
  type: z.literal('POSITION_UPDATE'),
  /** The user's position as of `sequenceId` (null: no live position: never jacked in, extracted, traced). */
  position: Position.nullable(),
  sequenceId: Sequence,
});

export const ScanWarningFrame = z.object({
  type: z.literal('SCAN_WARNING'),
  level: LevelName,
  secondsUntil: z.number().int().nonnegative(),
  /** When the scan is due, Unix ms. */
  scanAt: z.number().int().nonnegative(),
  /**
   * The same warning as the frontend's feed event (not in the stream: no sequence id, never replayed).
   * Optional: gateways older than the SDK send the frame without it.
   */
  event: FeedEvent.optional(),
});

/** The system reset is near: a deposit before `resetAt` pushes it back. */
export const SystemResetWarningFrame = z.object({
  type: z.literal('SYSTEM_RESET_WARNING'),
  secondsUntil: z.number().int().nonnegative(),
  /** The reset deadline, Unix ms. */
  resetAt: z.number().int().nonnegative(),
  event: FeedEvent,
});

export const ReplayFrame = z.object({
  type: z.literal('REPLAY'),
  /** Exclusive: the cursor the replay starts after. */
  fromSequenceId: Sequence,
  /** Inclusive: the client's cursor after applying it. Live frames follow from toSequenceId + 1. */
  toSequenceId: Sequence,
  /** The epoch of both sequence ids. */
  epoch: Epoch,
  events: z.array(SequencedFrame),
});
export type ReplayFrame = z.infer<typeof ReplayFrame>;

export const SnapshotFeedItem = z.object({
  sequenceId: Sequence,
  event: FeedEvent,
  /** As in FEED_EVENT: the message a derived event comes from. */
  sourceSequenceId: Sequence.optional(),
});
export type SnapshotFeedItem = z.infer<typeof SnapshotFeedItem>;

/** Read from the projector's tables in one transaction; `sequence` is what they reflect. */
export const Snapshot = z.object({
  sequence: Sequence,
  epoch: Epoch,
  networkState: NetworkState.nullable(),
  levels: z.array(LevelStats),
  position: Position.nullable(),
  /** Newest last. */
  recentFeed: z.array(SnapshotFeedItem),
});
export type Snapshot = z.infer<typeof Snapshot>;

export const FullSyncFrame = z.object({
  type: z.literal('FULL_SYNC'),
  /** The client's cursor becomes (snapshot.epoch, snapshot.sequence); a REPLAY from there follows. */
  snapshot: Snapshot,
});

export const PongFrame = z.object({
  type: z.literal('PONG'),
  /** On a live socket: every frame up to this sequence has been sent before this PONG. */
  sequenceId: Sequence.optional(),
});

export const ErrorCode = z.enum([
  'MALFORMED_JSON',
  'UNKNOWN_TYPE',
  'INVALID_MESSAGE',
  'BINARY_NOT_SUPPORTED',
  'MESSAGE_TOO_BIG',
  'NOT_AUTHENTICATED',
  'ALREADY_AUTHENTICATED',
  'ALREADY_SUBSCRIBED',
  'TOKEN_MALFORMED',
  'TOKEN_EXPIRED',
  'TOKEN_INVALID',
  'TOKEN_REVOKED',
  'AUTH_TIMEOUT',
  'TOO_MANY_CONNECTIONS',
  'TOO_MANY_REQUESTS',
  'SNAPSHOT_UNAVAILABLE',
  'SLOW_CONSUMER',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorFrame = z.object({ type: z.literal('ERROR'), code: ErrorCode, message: z.string() });

export const ServerFrame = z.discriminatedUnion('type', [
  ConnectionStateFrame,
  FeedEventFrame,
  ReorgFrame,
  PositionUpdateFrame,
  ScanWarningFrame,
  SystemResetWarningFrame,
  ReplayFrame,
  FullSyncFrame,
  PongFrame,
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/**
 * Close codes. 4000–4999 are the application's; 1009 and 1013 are the standard ones where they fit.
 * The SDK reconnects after every code except AUTH_FAILED with a fixed token (it asks `getToken` again when
 * given one).
 */
export const CloseCode = {
  /**
   * AUTH with a malformed, forged, expired, alg:none or logged-out token, or the session cookie was not valid;
   * also a live session whose token was logged out (ERROR TOKEN_REVOKED first).
   */
  AUTH_FAILED: 4001,
  /** No AUTH within the configured time after the upgrade. */
  AUTH_TIMEOUT: 4002,
  /** The user already has the maximum number of connections (across all gateway instances). */
  TOO_MANY_CONNECTIONS: 4003,
  /** The socket's send buffer passed the limit: the client reconnects and resumes from its cursor. */
  SLOW_CONSUMER: 4004,
  /** A binary frame, a message before AUTH, a queue overflow or repeated invalid messages. */
  PROTOCOL_ERROR: 4005,
  /** The instance is shutting down: reconnect (to any instance) and resume. */
  SERVER_SHUTDOWN: 4006,
  /** The stream was recreated (new epoch) under a live socket: reconnect and take the FULL_SYNC. */
  STREAM_RESET: 4007,
  /** The session token expired while connected: authenticate again. */
  SESSION_EXPIRED: 4008,
  /** A frame larger than the limit (far larger ones are dropped without a close frame). */
  MESSAGE_TOO_BIG: 1009,
  /** No snapshot could be read (projector not caught up with the stream): try again later. */
  TRY_AGAIN_LATER: 1013,
} as const;
export type CloseCodeName = keyof typeof CloseCode;
