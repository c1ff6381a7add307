import uWS, { type TemplatedApp, type us_listen_socket, type WebSocket } from 'uWebSockets.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type JwtKeyring, TokenError, tokenHash, verifySessionToken } from '@ghostnet/auth';
import {
  CLIENT_FRAME_TYPES,
  ClientFrame,
  CloseCode,
  type ErrorCode,
  type Snapshot,
} from '@ghostnet/client/protocol';
import { DEFAULT_FEED_OPTIONS, type FeedOptions, parseStreamMessage } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { readRange } from '@ghostnet/stream';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { type FollowedMessage, StreamFollower } from '../feed/follower.ts';
import { affectedUsers, framesOf, replayFrame } from '../feed/frames.ts';
import { openConnectionsBucket } from '../limits/bucket.ts';
import { ConnectionLimiter } from '../limits/connectionLimiter.ts';
import { PositionUpdates } from '../positions/positionUpdates.ts';
import type { SnapshotSource } from '../snapshot/source.ts';
import { Warnings } from '../warnings/warnings.ts';
import { type Connection, newConnection, readCookie } from './connection.ts';
import { Semaphore } from './semaphore.ts';

export interface GatewayLimits {
  /**
   * Largest client frame accepted: larger ones get ERROR MESSAGE_TOO_BIG and close 1009 (beyond 4× this, uWS
   * drops the connection without a close frame).
   */
  maxPayloadBytes: number;
  /** A socket whose unsent bytes pass this is closed with SLOW_CONSUMER. */
  maxBufferedBytes: number;
  authTimeoutMs: number;
  /** A socket silent this long is pinged; one silent for twice as long is closed (dead peer). */
  heartbeatSeconds: number;
  /**
   * Sequences kept in memory for replays. A snapshot at least this far behind the head (a lagging projector)
   * is not served: retried, then 1013 (the REPLAY after it would be read from the stream).
   */
  replayWindow: number;
  /** A gap (head − cursor, in stream sequences) below this is answered with REPLAY, else FULL_SYNC. */
  replayLimit: number;
  /** Resumes reading their gap from the stream at once (the window did not reach back); the others wait. */
  streamReads: number;
  /** Client frames that may wait while one is being handled. */
  maxQueuedFrames: number;
  /**
   * Invalid frames tolerated (each answered with ERROR) before PROTOCOL_ERROR; a repeated AUTH or RECONNECT and
   * a PING over the rate count as invalid.
   */
  maxInvalidFrames: number;
  /** PINGs answered per socket and second, on average; bursts of up to PING_BURST_SECONDS' worth. */
  pingsPerSecond: number;
  maxConnectionsPerUser: number;
  /** How long a connection lease lives without renewal (renewed every heartbeat). */
  leaseMs: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxPayloadBytes: 16 * 1024,
  maxBufferedBytes: 1024 * 1024,
  authTimeoutMs: 10_000,
  heartbeatSeconds: 30,
  replayWindow: 10_000,
  replayLimit: 1000,
  streamReads: 4,
  maxQueuedFrames: 8,
  maxInvalidFrames: 10,
  pingsPerSecond: 2,
  maxConnectionsPerUser: 5,
  leaseMs: 90_000,
};

export interface GatewayOptions {
  nc: NatsConnection;
  streamName: string;
  /** `<prefix>.<chainId>` */
  subjectRoot: string;
  keyring: JwtKeyring;
  snapshots: SnapshotSource;
  logger: Logger;
  host?: string;
  /** 0 picks a free port (see `port` after start). */
  port: number;
  /** Origins allowed to open a socket from a browser; a request without Origin (not a browser) is allowed. */
  allowedOrigins: readonly string[];
  /** The API's httpOnly session cookie. */
  sessionCookie?: string;
  /** Let sockets that never AUTH receive the public feed (the spec's default is AUTH first: false). */
  allowAnonymousFeed?: boolean;
  /** JetStream KV bucket holding connection leases; shared by every instance of a deployment. */
  connectionsBucket?: string;
  /** Replicas of that bucket when this instance creates it (3 on a 3-node JetStream cluster). */
  connectionsReplicas?: number;
  limits?: Partial<GatewayLimits>;
  feedOptions?: FeedOptions;
  instanceId?: string;
  /**
   * Logged-out sessions (the API's `api_revoked_tokens`): checked at AUTH and every `revocationCheckMs` for the
   * sessions already open. Without it, a token is good until it expires.
   */
  revocations?: RevocationSource;
  revocationCheckMs?: number;
  /** POSITION_UPDATE polling of the positions checkpoint. */
  positionTickMs?: number;
  /** SCAN_WARNING this long before a level's scan (default 60 s: positions lock then). */
  scanWarningLeadMs?: number;
  /** SYSTEM_RESET_WARNING this long before the reset deadline (default 5 min). */
  systemResetWarningLeadMs?: number;
  /** How often the deadlines are read again besides the events that move them (default 30 s). */
  scanRefreshMs?: number;
  /** How often the stream's epoch is compared with ours (default 5 s; consumer notices also trigger it). */
  epochCheckMs?: number;
  /** How a resume reads its gap from the stream (default `readRange` of @ghostnet/stream; tests stall it). */
  readRange?: typeof readRange;
}

/** Which of these token hashes (sha-256, hex) belong to logged-out sessions. */
export interface RevocationSource {
  revokedAmong(tokenHashes: readonly string[]): Promise<Set<string>>;
}

const FEED_TOPIC = 'feed';
/** Chain events after which a scan time or the reset deadline may have changed (see Warnings). */
const MOVES_A_DEADLINE = new Set([
  'ScanExecuted',
  'ScanFinalized',
  'JackedIn',
  'StakeAdded',
  'Extracted',
  'SystemResetTriggered',
]);
const userTopic = (address: string) => `u/${address}`;
const decoder = new TextDecoder();
const REPLAY_WAIT_MS = 5_000;
const SNAPSHOT_ATTEMPTS = 10;
/**
 * A snapshot too far behind is read again this many times (a projector through a burst catches up within a
 * second); one an hour behind will not be better later in the same request, and each try is a database read.
 */
const STALE_SNAPSHOT_ATTEMPTS = 3;
/** The SDK pings every 30 s; this leaves room for clients that ping much more often. */
const PING_BURST_SECONDS = 5;
const READ_TIMEOUT_MS = 2_000;

/** A socket's allowance for live bursts, in multiples of maxBufferedBytes. */
const BURST_ALLOWANCE = 4;

export interface GatewayStats {
  instanceId: string;
  ready: boolean;
  epoch: string;
  head: number;
  connections: number;
  live: number;
  users: number;
  replays: number;
  fullSyncs: number;
  slowConsumers: number;
  published: number;
  /** Unreadable stream messages skipped, and consumer notices that paused the follower. */
  parseErrors: number;
  consumerNotices: number;
  lastNotice: string;
  /** The follower's consumer stood still behind the stream and was replaced. */
  followerStalls: number;
  /** The most unsent bytes any socket holds now. */
  maxBufferedBytes: number;
}

/**
 * The live feed: one uWS app per instance, following the stream itself. Every frame is serialized once and
 * published to a uWS topic (the public feed, and one topic per user for POSITION_UPDATE); resumes are answered
 * from the in-memory window (or the stream when the window does not reach back far enough) and switched to
 * live in one synchronous step, so no live frame is lost or doubled around a replay.
 */
export class Gateway {
  readonly instanceId: string;
  readonly limits: GatewayLimits;
  port = 0;
  #app: TemplatedApp | null = null;
  #listen: us_listen_socket | null = null;
  #js: JetStreamClient | null = null;
  /**
   * Reads (the follower, replays) create ephemeral consumers; on a cluster with a dead peer some creations go
   * unanswered and are retried, so a short timeout there keeps a client's wait short. KV keeps the default.
   */
  #readJs: JetStreamClient | null = null;
  #jsm: JetStreamManager | null = null;
  #follower: StreamFollower | null = null;
  #limiter: ConnectionLimiter | null = null;
  #positions: PositionUpdates | null = null;
  #warnings: Warnings | null = null;
  #connections = new Set<Connection>();
  #live = new Set<Connection>();
  #byUser = new Map<string, Set<Connection>>();
  #nextId = 1;
  #timers: NodeJS.Timeout[] = [];
  #stopping = false;
  #releases = new Set<Promise<void>>();
  #allowedOrigins: Set<string>;
  /** Frames sent or published since the last buffer sweep: none means no buffer can have grown. */
  #sentSinceSweep = 0;
  #streamReads: Semaphore;
  readonly #log: Logger;
  #stats = { replays: 0, fullSyncs: 0, slowConsumers: 0, published: 0 };

  constructor(readonly options: GatewayOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.#allowedOrigins = new Set(options.allowedOrigins);
    this.#log = options.logger;
    this.#streamReads = new Semaphore(this.limits.streamReads);
  }

  async start(): Promise<void> {
    const { nc } = this.options;
    this.#js = jetstream(nc);
    this.#readJs = jetstream(nc, { timeout: READ_TIMEOUT_MS });
    this.#jsm = await jetstreamManager(nc);
    const kv = await openConnectionsBucket(
      this.#js,
      this.options.connectionsBucket ?? 'gateway_connections',
      this.limits.leaseMs,
      this.options.connectionsReplicas,
    );
    this.#limiter = new ConnectionLimiter({
      kv,
      max: this.limits.maxConnectionsPerUser,
      leaseMs: this.limits.leaseMs,
      logger: this.#log,
    });

    const app = uWS.App();
    this.#app = app;
    this.#follower = new StreamFollower({
      js: this.#readJs,
      jsm: this.#jsm,
      streamName: this.options.streamName,
      subjectRoot: this.options.subjectRoot,
      windowSize: this.limits.replayWindow,
      feedOptions: this.options.feedOptions,
      epochCheckMs: this.options.epochCheckMs,
      logger: this.#log,
      onMessage: (m) => this.#onStreamMessage(m),
      onReset: () => this.#onStreamReset(),
    });
    this.#positions = new PositionUpdates({
      source: this.options.snapshots,
      localUsers: () => this.#byUser.keys(),
      isLocal: (address) => this.#byUser.has(address),
      publish: (address, frame) => this.#publish(userTopic(address), frame),
      isCurrentEpoch: (epoch) => this.#follower?.isCurrentEpoch(epoch) ?? false,
      tickMs: this.options.positionTickMs ?? 100,
      logger: this.#log,
    });
    this.#warnings = new Warnings({
      readDeadlines: () => this.options.snapshots.readDeadlines(),
      publish: (frame) => this.#publish(FEED_TOPIC, frame),
      scanLeadMs: this.options.scanWarningLeadMs ?? 60_000,
      resetLeadMs: this.options.systemResetWarningLeadMs ?? 300_000,
      refreshMs: this.options.scanRefreshMs ?? 30_000,
      logger: this.#log,
    });

    app.ws<Connection>('/*', {
      // uWS drops frames over its own limit without a close code; up to 4× ours we answer with a proper 1009.
      maxPayloadLength: Math.max(4 * this.limits.maxPayloadBytes, 64 * 1024),
      // 0 = never drop: a slow socket is closed by the sweep below instead of silently missing frames.
      maxBackpressure: 0,
      closeOnBackpressureLimit: 0,
      // uWS pings a socket silent for half the idle timeout and closes it when the whole timeout passes
      // without a byte from it: a ping every `heartbeatSeconds`, dead peers gone after two.
      idleTimeout: Math.max(8, this.limits.heartbeatSeconds * 2), // uWS refuses less than 8
      sendPingsAutomatically: true,
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => {
        const origin = req.getHeader('origin');
        if (this.#stopping) {
          res.writeStatus('503 Service Unavailable').end('shutting down');
          return;
        }
        if (origin && !this.#allowedOrigins.has(origin)) {
          res.writeStatus('403 Forbidden').end('origin not allowed');
          return;
        }
        const cookieToken = readCookie(
          req.getHeader('cookie'),
          this.options.sessionCookie ?? 'ghostnet_session',
        );
        res.upgrade<Connection>(
          newConnection(this.#nextId++, cookieToken, Date.now()),
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        const conn = ws.getUserData();
        conn.ws = ws;
        this.#connections.add(conn);
        if (conn.cookieToken) {
          const token = conn.cookieToken;
          conn.cookieToken = null;
          this.#enqueue(conn, { type: 'AUTH', token });
        }
      },
      message: (ws, message, isBinary) => this.#onFrame(ws.getUserData(), message, isBinary),
      close: (ws) => this.#onClose(ws.getUserData()),
    });
    app.get('/health', (res) => {
      const stats = this.stats();
      res.cork(() => {
        res
          .writeStatus(stats.ready && !this.#stopping ? '200 OK' : '503 Service Unavailable')
          .writeHeader('content-type', 'application/json')
          .end(JSON.stringify(stats));
      });
    });
    app.any('/*', (res) => {
      res.writeStatus('426 Upgrade Required').end('websocket only');
    });

    await this.#follower.start();
    this.#positions.start();
    this.#warnings.start();
    await new Promise<void>((resolve, reject) => {
      app.listen(this.options.host ?? '0.0.0.0', this.options.port, (socket) => {
        if (!socket) return reject(new Error(`gateway could not listen on port ${this.options.port}`));
        this.#listen = socket;
        this.port = uWS.us_socket_local_port(socket);
        resolve();
      });
    });
    this.#timers.push(
      setInterval(() => this.#sweepBuffers(), 100),
      setInterval(() => this.#sweepSessions(), 500),
      setInterval(() => void this.#renewLeases(), this.limits.leaseMs / 3),
    );
    if (this.options.revocations)
      this.#timers.push(
        setInterval(() => void this.#closeRevoked(), this.options.revocationCheckMs ?? 10_000),
      );
    for (const t of this.#timers) t.unref();
    this.#log.info(
      {
        instanceId: this.instanceId,
        port: this.port,
        epoch: this.#follower.epoch,
        head: this.#follower.head,
      },
      'gateway listening',
    );
  }

  /** Resolves when the follower has caught up with the stream as it was at start. */
  whenReady(): Promise<void> {
    return this.#follower?.whenReady() ?? Promise.resolve();
  }

  /**
   * A projection committed a batch (a checkpoint notice from the projector): POSITION_UPDATEs waiting for the
   * positions projection are sent now instead of at the next poll.
   */
  checkpointAdvanced(projection: string): void {
    if (projection === this.options.snapshots.positionsProjection) {
      this.#positions?.nudge();
      this.#warnings?.checkpointAdvanced();
    }
  }

  /** Read the scan times and the reset deadline now (they are read every `scanRefreshMs` and after events). */
  refreshWarnings(): Promise<void> {
    return this.#warnings?.refresh() ?? Promise.resolve();
  }

  stats(): GatewayStats {
    return {
      instanceId: this.instanceId,
      ready: this.#follower?.ready ?? false,
      epoch: this.#follower?.epoch ?? '',
      head: this.#follower?.head ?? 0,
      connections: this.#connections.size,
      live: this.#live.size,
      users: this.#byUser.size,
      parseErrors: this.#follower?.parseErrors ?? 0,
      consumerNotices: this.#follower?.suspectNotices ?? 0,
      lastNotice: this.#follower?.lastNotice ?? '',
      followerStalls: this.#follower?.stalls ?? 0,
      maxBufferedBytes: this.#maxBuffered(),
      ...this.#stats,
    };
  }

  /**
   * Graceful shutdown: stop accepting, tell every client (CONNECTION_STATE reconnecting, then close with
   * SERVER_SHUTDOWN so the SDK resumes elsewhere at once), give back the connection leases, stop following.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#listen) uWS.us_listen_socket_close(this.#listen);
    this.#listen = null;
    for (const t of this.#timers) clearInterval(t);
    const notice = JSON.stringify({ type: 'CONNECTION_STATE', status: 'reconnecting', reason: 'shutdown' });
    for (const conn of [...this.#connections]) {
      this.#send(conn, notice);
      this.#close(conn, CloseCode.SERVER_SHUTDOWN, 'server shutdown');
    }
    await Promise.race([Promise.all(this.#releases), new Promise((r) => setTimeout(r, 2_000))]);
    this.#positions?.stop();
    this.#warnings?.stop();
    await this.#follower?.stop();
    this.#log.info({ instanceId: this.instanceId }, 'gateway stopped');
  }

  // ─── stream → sockets ───────────────────────────────────────────────────────────────────────────────

  #onStreamMessage({ seq, message, frames }: FollowedMessage): void {
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    // One message that alone fills much of a socket's buffer (a scan's survivors: an event per survivor, up to
    // 5,000) is a burst every socket gets at once, not a sign that one is slow: a socket keeping up (within
    // the limit now) gets room for it until it has drained, as after a large REPLAY. Never more than
    // BURST_ALLOWANCE limits in all, so a socket that stopped reading is still closed, its memory bounded.
    const limit = this.limits.maxBufferedBytes;
    if (bytes > limit / 4) {
      for (const conn of this.#live) {
        if (conn.ws!.getBufferedAmount() <= limit) {
          conn.allowance = Math.max(
            conn.allowance,
            Math.min(conn.allowance + bytes, BURST_ALLOWANCE * limit),
          );
        }
      }
    }
    for (const frame of frames) this.#publish(FEED_TOPIC, frame);
    this.#stats.published += frames.length;
    if (!message || !this.#follower?.ready) return;
    if (this.#byUser.size > 0) {
      const users = affectedUsers(message);
      if (users === 'all' || users.length > 0) this.#positions?.enqueue(users, seq);
    }
    if (message.kind === 'chain' && MOVES_A_DEADLINE.has(message.name)) this.#warnings?.moved(seq);
  }

  /** Every cursor of the old epoch is void: make live sockets reconnect, which leads them to FULL_SYNC. */
  #onStreamReset(): void {
    for (const conn of [...this.#connections]) {
      if (conn.phase === 'live' || conn.phase === 'resuming') {
        this.#close(conn, CloseCode.STREAM_RESET, 'stream reset');
      }
    }
  }

  // ─── client frames ──────────────────────────────────────────────────────────────────────────────────

  #onFrame(conn: Connection, message: ArrayBuffer, isBinary: boolean): void {
    if (isBinary) {
      this.#error(conn, 'BINARY_NOT_SUPPORTED', 'frames are JSON text');
      this.#close(conn, CloseCode.PROTOCOL_ERROR, 'binary frame');
      return;
    }
    if (message.byteLength > this.limits.maxPayloadBytes) {
      this.#error(conn, 'MESSAGE_TOO_BIG', `frames are at most ${this.limits.maxPayloadBytes} bytes`);
      this.#close(conn, CloseCode.MESSAGE_TOO_BIG, 'message too big');
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(message));
    } catch {
      this.#invalid(conn, 'MALFORMED_JSON', 'frame is not JSON');
      return;
    }
    const parsed = ClientFrame.safeParse(raw);
    if (!parsed.success) {
      const type = (raw as { type?: unknown } | null)?.type;
      if (!CLIENT_FRAME_TYPES.includes(type as never)) {
        this.#invalid(conn, 'UNKNOWN_TYPE', `unknown frame type ${JSON.stringify(type)?.slice(0, 40)}`);
      } else {
        this.#invalid(conn, 'INVALID_MESSAGE', z.prettifyError(parsed.error).slice(0, 300));
      }
      return;
    }
    const frame = parsed.data;
    if (frame.type !== 'AUTH' && conn.phase === 'new' && !conn.busy && !this.options.allowAnonymousFeed) {
      this.#error(conn, 'NOT_AUTHENTICATED', 'the first frame must be AUTH');
      this.#close(conn, CloseCode.PROTOCOL_ERROR, 'not authenticated');
      return;
    }
    if (frame.type === 'PING') {
      // Each answer is a frame to buffer: a client that floods PINGs and reads nothing must not grow it freely.
      if (!this.#takePing(conn)) {
        this.#invalid(conn, 'TOO_MANY_REQUESTS', `at most ${this.limits.pingsPerSecond} PINGs per second`);
        return;
      }
      // Answered at once, even while a resume is in progress; carries the cursor only on a live socket.
      this.#send(
        conn,
        conn.phase === 'live' ? `{"type":"PONG","sequenceId":${this.#follower!.head}}` : '{"type":"PONG"}',
      );
      return;
    }
    this.#enqueue(conn, frame);
  }

  #enqueue(conn: Connection, frame: ClientFrame): void {
    if (conn.busy) {
      conn.queue ??= [];
      if (conn.queue.length >= this.limits.maxQueuedFrames) {
        this.#error(conn, 'TOO_MANY_REQUESTS', 'too many frames while the previous one is handled');
        this.#close(conn, CloseCode.PROTOCOL_ERROR, 'queue overflow');
        return;
      }
      conn.queue.push(frame);
      return;
    }
    void this.#drain(conn, frame);
  }

  async #drain(conn: Connection, first: ClientFrame): Promise<void> {
    conn.busy = true;
    let frame: ClientFrame | undefined = first;
    while (frame && !isClosed(conn)) {
      try {
        await this.#handle(conn, frame);
      } catch (error) {
        this.#log.error({ err: error, conn: conn.id }, 'frame handler failed');
        this.#error(conn, 'INTERNAL', 'internal error');
        this.#close(conn, 1011, 'internal error');
      }
      frame = conn.queue?.shift();
    }
    conn.busy = false;
    conn.queue = null;
  }

  async #handle(conn: Connection, frame: ClientFrame): Promise<void> {
    if (frame.type === 'AUTH') return this.#authenticate(conn, frame.token);
    if (frame.type === 'RECONNECT') return this.#reconnect(conn, frame.lastSequenceId, frame.epoch);
  }

  async #authenticate(conn: Connection, token: string): Promise<void> {
    if (conn.phase !== 'new') {
      this.#invalid(conn, 'ALREADY_AUTHENTICATED', 'AUTH is accepted once, as the first frame');
      return;
    }
    conn.phase = 'authenticating';
    let claims: Awaited<ReturnType<typeof verifySessionToken>>;
    try {
      claims = await verifySessionToken(this.options.keyring, token);
    } catch (error) {
      const code: ErrorCode = error instanceof TokenError ? error.code : 'TOKEN_INVALID';
      this.#error(conn, code, error instanceof TokenError ? error.message : 'token verification failed');
      this.#close(conn, CloseCode.AUTH_FAILED, 'auth failed');
      return;
    }
    if (isClosed(conn)) return;
    const hash = tokenHash(token).toString('hex');
    const revoked = await this.#isRevoked(hash);
    if (isClosed(conn)) return;
    if (revoked) {
      this.#refuseRevoked(conn);
      return;
    }
    const address = claims.sub;
    const admitted = await this.#limiter!.acquire(address, this.#leaseId(conn));
    if (isClosed(conn)) {
      if (admitted) this.#release(address, conn);
      return;
    }
    if (!admitted) {
      this.#error(
        conn,
        'TOO_MANY_CONNECTIONS',
        `at most ${this.limits.maxConnectionsPerUser} connections per user`,
      );
      this.#close(conn, CloseCode.TOO_MANY_CONNECTIONS, 'too many connections');
      return;
    }
    conn.leased = true;
    conn.address = address;
    conn.expiresAt = claims.exp * 1000;
    conn.tokenHash = hash;
    conn.phase = 'authenticated';
    const sockets = this.#byUser.get(address) ?? new Set<Connection>();
    this.#byUser.set(address, sockets);
    sockets.add(conn);
    this.#send(
      conn,
      JSON.stringify({
        type: 'CONNECTION_STATE',
        status: 'connected',
        address,
        epoch: this.#follower!.epoch,
        headSequenceId: this.#follower!.head,
      }),
    );
  }

  async #reconnect(conn: Connection, cursor: number | null, epoch: string | undefined): Promise<void> {
    if (conn.phase === 'live' || conn.phase === 'resuming') {
      this.#invalid(conn, 'ALREADY_SUBSCRIBED', 'the feed is already running on this socket');
      return;
    }
    if (conn.phase !== 'authenticated') {
      if (!(conn.phase === 'new' && this.options.allowAnonymousFeed)) {
        this.#error(conn, 'NOT_AUTHENTICATED', 'send AUTH first');
        this.#close(conn, CloseCode.PROTOCOL_ERROR, 'not authenticated');
        return;
      }
    }
    conn.phase = 'resuming';
    const follower = this.#follower!;
    const ready = await Promise.race([
      follower.whenReady().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), REPLAY_WAIT_MS * 2)),
    ]);
    if (isClosed(conn)) return;
    if (!ready) {
      this.#tryAgainLater(conn, 'this gateway is still catching up with the stream; try again', 'not ready');
      return;
    }
    // A cursor without epoch may count in an incarnation of the stream that is gone: its REPLAY would be
    // other events under the same numbers.
    const foreign = epoch === undefined || !follower.isCurrentEpoch(epoch);
    if (cursor === null || foreign || !(await this.#cursorExists(cursor))) {
      return this.#fullSync(conn);
    }
    if (isClosed(conn)) return;
    if (follower.head - cursor >= this.limits.replayLimit) return this.#fullSync(conn);
    this.#stats.replays++;
    return this.#goLive(conn, cursor, epoch);
  }

  /** A cursor beyond this instance's head is trusted only if the stream has reached it (another instance was ahead). */
  async #cursorExists(cursor: number): Promise<boolean> {
    const follower = this.#follower!;
    if (cursor <= follower.head) return true;
    const info = await this.#jsm!.streams.info(this.options.streamName);
    if (cursor > info.state.last_seq) return false;
    return follower.waitForHead(cursor, REPLAY_WAIT_MS);
  }

  /** The gateway cannot serve this resume now (not caught up, no snapshot, a read failed): the client retries. */
  #tryAgainLater(conn: Connection, message: string, reason: string): void {
    this.#error(conn, 'SNAPSHOT_UNAVAILABLE', message);
    this.#close(conn, CloseCode.TRY_AGAIN_LATER, reason);
  }

  async #fullSync(conn: Connection): Promise<void> {
    this.#stats.fullSyncs++;
    const follower = this.#follower!;
    let snapshot: Snapshot | null = null;
    let stale: Snapshot | null = null;
    let staleReads = 0;
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS && !isClosed(conn); attempt++) {
      if (attempt > 0) {
        await new Promise((r) => setTimeout(r, 200 * attempt));
        if (isClosed(conn)) return;
      }
      if (follower.head === 0) {
        // An empty stream: there is nothing for a projector to have applied, and nothing to show.
        snapshot = {
          sequence: 0,
          epoch: follower.epoch,
          networkState: null,
          levels: [],
          position: null,
          recentFeed: [],
        };
        break;
      }
      try {
        const read = await this.options.snapshots.readSnapshot({ address: conn.address });
        // A snapshot of another epoch (projector not caught up with a recreated stream) is not one to send.
        if (!follower.isCurrentEpoch(read.epoch)) continue;
        // The REPLAY that follows a snapshot is (snapshot, head]: served from the window (memory) it costs no
        // stream read, but beyond it a projector an hour behind would have every new client read and buffer an
        // hour of the stream. A projector catching up after a burst (thousands behind) stays within the window.
        if (follower.head - read.sequence < this.limits.replayWindow) {
          snapshot = read;
          break;
        }
        stale = read;
        if (++staleReads >= STALE_SNAPSHOT_ATTEMPTS) break;
      } catch (error) {
        this.#log.warn({ err: error }, 'snapshot read failed');
      }
    }
    if (isClosed(conn)) return;
    if (!snapshot) {
      if (stale) {
        this.#log.warn(
          { conn: conn.id, snapshot: stale.sequence, head: follower.head, limit: this.limits.replayLimit },
          'snapshot too far behind the stream (projector lagging): client told to try again',
        );
        this.#tryAgainLater(conn, 'the snapshot is too far behind the stream; try again', 'snapshot behind');
      } else {
        this.#tryAgainLater(conn, 'no snapshot of the current stream yet; try again', 'snapshot unavailable');
      }
      return;
    }
    const text = JSON.stringify({ type: 'FULL_SYNC', snapshot });
    conn.allowance += text.length;
    this.#send(conn, text);
    return this.#goLive(conn, snapshot.sequence, snapshot.epoch);
  }

  /**
   * Sends REPLAY (cursor, head] and subscribes the socket to the live topics in one synchronous step, so the
   * first live frame it gets is head + 1. The part of the range the window no longer holds is read from the
   * stream first (which takes time, during which the window keeps moving: hence the loop). `epoch` is the one
   * `from` counts in; any name of the followed stream will do.
   */
  async #goLive(conn: Connection, from: number, epoch: string): Promise<void> {
    const follower = this.#follower!;
    if (follower.head < from && !(await follower.waitForHead(from, REPLAY_WAIT_MS))) {
      if (isClosed(conn)) return;
      this.#tryAgainLater(conn, 'this gateway has not reached your cursor yet; try again', 'behind cursor');
      return;
    }
    const older: string[] = [];
    let cursor = from;
    for (;;) {
      if (isClosed(conn)) return;
      if (!follower.isCurrentEpoch(epoch)) {
        this.#close(conn, CloseCode.STREAM_RESET, 'stream reset');
        return;
      }
      if (follower.window.covers(cursor)) {
        const frames =
          older.length > 0
            ? older.concat(follower.window.framesAfter(cursor))
            : follower.window.framesAfter(cursor);
        const to = follower.head;
        // The follower's current name for the stream: the one every instance that saw it will know.
        const text = replayFrame(from, to, follower.epoch, frames);
        const ws = conn.ws!;
        conn.allowance += text.length;
        ws.cork(() => {
          ws.send(text);
          ws.subscribe(FEED_TOPIC);
          if (conn.address) ws.subscribe(userTopic(conn.address));
          // A scan less than a minute away (or the reset) was announced before this socket was live.
          for (const warning of this.#warnings?.active() ?? []) ws.send(warning);
        });
        this.#sentSinceSweep++;
        conn.phase = 'live';
        this.#live.add(conn);
        // The replayed range may have changed this user's position.
        if (conn.address) this.#positions?.enqueue([conn.address], to);
        return;
      }
      const until = follower.window.coveredFrom;
      // Each read holds a consumer and the frames it gathers: a crowd of resumes reads a few at a time.
      const release = await this.#streamReads.acquire();
      try {
        if (isClosed(conn)) return;
        const read = this.options.readRange ?? readRange;
        for await (const m of read(this.#readJs!, this.options.streamName, cursor + 1, until)) {
          // Gone mid-read: the rest of the range would be read for nobody, holding a slot others wait for.
          if (isClosed(conn)) return;
          if (!m.subject.startsWith(`${this.options.subjectRoot}.`)) continue;
          try {
            for (const f of framesOf(
              m.seq,
              parseStreamMessage(m.data),
              this.options.feedOptions ?? DEFAULT_FEED_OPTIONS,
            )) {
              older.push(f);
            }
          } catch {
            // Unreadable messages yield no frame, as in the follower.
          }
        }
      } catch (error) {
        // A range not read in full must not become a REPLAY with a hole: the client resumes from its cursor.
        this.#log.warn({ err: error, conn: conn.id, from: cursor + 1, until }, 'replay read failed');
        if (isClosed(conn)) return;
        this.#tryAgainLater(
          conn,
          'could not read the missed events from the stream; try again',
          'replay read failed',
        );
        return;
      } finally {
        release();
      }
      cursor = until;
    }
  }

  // ─── housekeeping ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Closes sockets whose unsent bytes passed the limit: they resume from their cursor; nothing is skipped.
   * Every open socket is looked at, live or not, after any frame went out (published or sent to one socket: a
   * PONG, an ERROR), since any of them may have grown a buffer; when nothing went out, none can have.
   */
  #sweepBuffers(): void {
    if (this.#sentSinceSweep === 0 && !this.#anyAllowance()) return;
    this.#sentSinceSweep = 0;
    const limit = this.limits.maxBufferedBytes;
    for (const conn of this.#connections) {
      const buffered = conn.ws!.getBufferedAmount();
      if (buffered > limit + conn.allowance) {
        this.#stats.slowConsumers++;
        this.#log.info({ conn: conn.id, address: conn.address, buffered }, 'slow consumer closed');
        this.#close(conn, CloseCode.SLOW_CONSUMER, 'slow consumer');
      } else if (conn.allowance > 0 && buffered <= limit) {
        conn.allowance = 0;
      }
    }
  }

  #maxBuffered(): number {
    let max = 0;
    for (const conn of this.#connections) max = Math.max(max, conn.ws?.getBufferedAmount() ?? 0);
    return max;
  }

  #anyAllowance(): boolean {
    for (const conn of this.#connections) if (conn.allowance > 0) return true;
    return false;
  }

  /** Sockets that never authenticated in time, and sessions whose token has expired since. */
  #sweepSessions(): void {
    const now = Date.now();
    const deadline = now - this.limits.authTimeoutMs;
    for (const conn of this.#connections) {
      if (conn.phase === 'new' && !conn.busy && conn.openedAt < deadline) {
        this.#error(conn, 'AUTH_TIMEOUT', `no AUTH within ${this.limits.authTimeoutMs} ms`);
        this.#close(conn, CloseCode.AUTH_TIMEOUT, 'auth timeout');
      } else if (conn.address && conn.expiresAt <= now) {
        this.#error(conn, 'TOKEN_EXPIRED', 'session expired; authenticate again');
        this.#close(conn, CloseCode.SESSION_EXPIRED, 'session expired');
      }
    }
  }

  /**
   * Fails open: while the database does not answer, a signed, unexpired token is let in (logged), so clients
   * can still resume from the stream through a Postgres outage; the periodic check closes it once it answers.
   */
  async #isRevoked(hash: string): Promise<boolean> {
    if (!this.options.revocations) return false;
    try {
      return (await this.options.revocations.revokedAmong([hash])).has(hash);
    } catch (error) {
      this.#log.warn({ err: error }, 'revocation check failed; token accepted on its signature');
      return false;
    }
  }

  /** Ends the open sessions whose token was logged out since they authenticated. */
  async #closeRevoked(): Promise<void> {
    const open = [...this.#connections].filter((c) => c.tokenHash !== null && !isClosed(c));
    if (open.length === 0) return;
    let revoked: Set<string>;
    try {
      revoked = await this.options.revocations!.revokedAmong([...new Set(open.map((c) => c.tokenHash!))]);
    } catch (error) {
      this.#log.warn({ err: error }, 'revocation check failed; retrying');
      return;
    }
    for (const conn of open) if (revoked.has(conn.tokenHash!) && !isClosed(conn)) this.#refuseRevoked(conn);
  }

  #refuseRevoked(conn: Connection): void {
    this.#error(conn, 'TOKEN_REVOKED', 'this session was logged out; sign in again');
    this.#close(conn, CloseCode.AUTH_FAILED, 'session logged out');
  }

  /** Renews this instance's connection leases (they lapse after `leaseMs` if this instance dies). */
  async #renewLeases(): Promise<void> {
    const users = [...this.#byUser.entries()].map(
      ([user, conns]) => [user, [...conns].filter((c) => c.leased).map((c) => this.#leaseId(c))] as const,
    );
    for (let i = 0; i < users.length; i += 32) {
      await Promise.all(
        users.slice(i, i + 32).map(([user, ids]) =>
          this.#limiter!.renew(user, ids, (id) => this.#holdsLease(user, id)).catch((error) => {
            this.#log.warn({ err: error, user }, 'lease renewal failed');
          }),
        ),
      );
    }
  }

  /** Whether a socket of this instance still holds the lease `id` of `user` (it is released on close). */
  #holdsLease(user: string, id: string): boolean {
    for (const conn of this.#byUser.get(user) ?? [])
      if (conn.leased && this.#leaseId(conn) === id) return true;
    return false;
  }

  #leaseId(conn: Connection): string {
    return `${this.instanceId}:${conn.id}`;
  }

  #onClose(conn: Connection): void {
    conn.phase = 'closed';
    conn.ws = null;
    conn.queue = null;
    this.#connections.delete(conn);
    this.#live.delete(conn);
    if (conn.address) {
      const sockets = this.#byUser.get(conn.address);
      sockets?.delete(conn);
      if (sockets?.size === 0) this.#byUser.delete(conn.address);
      if (conn.leased) this.#release(conn.address, conn);
    }
  }

  #release(address: string, conn: Connection): void {
    const p = this.#limiter!.release(address, this.#leaseId(conn)).catch((error) => {
      this.#log.warn({ err: error, address }, 'lease release failed (it will lapse)');
    });
    this.#releases.add(p);
    void p.finally(() => this.#releases.delete(p));
  }

  #send(conn: Connection, text: string): void {
    if (!isClosed(conn) && conn.ws) {
      conn.ws.send(text);
      this.#sentSinceSweep++;
    }
  }

  #publish(topic: string, frame: string): void {
    this.#app!.publish(topic, frame);
    this.#sentSinceSweep++;
  }

  /** A token bucket per socket: `pingsPerSecond`, with bursts of PING_BURST_SECONDS' worth. */
  #takePing(conn: Connection): boolean {
    const now = Date.now();
    const rate = this.limits.pingsPerSecond;
    conn.pingTokens = Math.min(
      rate * PING_BURST_SECONDS,
      conn.pingTokens + ((now - conn.pingAt) / 1000) * rate,
    );
    conn.pingAt = now;
    if (conn.pingTokens < 1) return false;
    conn.pingTokens--;
    return true;
  }

  #error(conn: Connection, code: ErrorCode, message: string): void {
    this.#send(conn, JSON.stringify({ type: 'ERROR', code, message }));
  }

  #invalid(conn: Connection, code: ErrorCode, message: string): void {
    this.#error(conn, code, message);
    if (++conn.errors > this.limits.maxInvalidFrames) {
      this.#close(conn, CloseCode.PROTOCOL_ERROR, 'too many invalid frames');
    }
  }

  /** uWS runs the close handler inside end(): the connection is 'closed' when this returns. */
  #close(conn: Connection, code: number, reason: string): void {
    if (!isClosed(conn) && conn.ws) conn.ws.end(code, reason);
  }
}

export type { WebSocket };

/** A function, not an inline comparison: the phase changes across awaits, which narrowing cannot see. */
function isClosed(conn: Connection): boolean {
  return conn.phase === 'closed';
}
