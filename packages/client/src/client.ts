import type { FeedEvent, LevelName, LevelStats, NetworkState, Position } from '@ghostnet/events';
import {
  CloseCode,
  type ConnectionStatus,
  type ErrorCode,
  type ReplayFrame,
  type SequencedFrame,
  ServerFrame,
  type Snapshot,
  type SnapshotFeedItem,
} from './protocol.ts';

/** The part of the WHATWG WebSocket the client uses: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface Cursor {
  sequenceId: number;
  epoch: string;
}

export type ClientStatus = 'idle' | 'connecting' | 'syncing' | 'live' | 'reconnecting' | 'closed';

export interface FeedMeta {
  sequenceId: number;
  index: number;
  count: number;
  /** Delivered inside a REPLAY (missed while away) rather than live. */
  replayed: boolean;
}

export interface ClientEvents {
  /** A feed event, exactly once and in stream order. */
  feed: (event: FeedEvent, meta: FeedMeta) => void;
  /** The chain dropped these sequences: remove what they showed (the SDK's `feed` already has). */
  reorg: (orphanedSequenceIds: readonly number[], sequenceId: number) => void;
  /** FULL_SYNC: state replaced by a snapshot; the feed continues from `snapshot.sequence`. */
  sync: (snapshot: Snapshot) => void;
  /** Caught up (after REPLAY): live frames follow. */
  live: (info: { fromSequenceId: number; toSequenceId: number; replayed: number }) => void;
  position: (position: Position | null, sequenceId: number) => void;
  scanWarning: (warning: { level: LevelName; secondsUntil: number; scanAt: number }) => void;
  systemResetWarning: (warning: { secondsUntil: number; resetAt: number }) => void;
  /**
   * A timed feed event that no stream message carries (TRACE_SCAN_WARNING, SYSTEM_RESET_WARNING): no sequence
   * id, not replayed after a reconnect; a socket going live inside the warning's lead time gets it then.
   */
  warning: (event: FeedEvent) => void;
  status: (status: ClientStatus) => void;
  /** ERROR frames from the gateway, and problems of the client itself (`code: 'CLIENT'`). */
  error: (error: { code: ErrorCode | 'CLIENT'; message: string }) => void;
  /**
   * The socket closed; `retryInMs` is null when the client gives up (closed by you, or auth failed for good).
   * `close()` emits it at once (code 1000) when it had a socket open or opening.
   */
  disconnect: (info: { code: number; reason: string; retryInMs: number | null }) => void;
  /** Informational server state (CONNECTION_STATE), e.g. `reconnecting` before a server shutdown. */
  connection: (info: { status: ConnectionStatus; address?: string | null; reason?: string }) => void;
}

export interface GatewayClientOptions {
  /** One gateway URL, or several to rotate through on reconnect. */
  url: string | readonly string[];
  /**
   * The session token, or a function returning a fresh one (asked on every connect). Omit it in a browser that
   * holds the API's session cookie, or for an anonymous public feed.
   */
  token?: string | (() => string | Promise<string>);
  /** Default: globalThis.WebSocket (browsers, Node ≥ 22). Node 20: `import WebSocket from 'ws'`. */
  WebSocket?: WebSocketConstructor;
  /** Resume from here (e.g. saved in localStorage); default: start with a FULL_SYNC. */
  cursor?: Cursor | null;
  /** Reconnect delays, the last one repeating. The spec's 1, 2, 4, 8, 16, 30 s by default. */
  backoffMs?: readonly number[];
  /** ± this fraction of random jitter on each delay (default 0.2). */
  jitter?: number;
  /** PING period; the socket is considered dead after two periods without any frame (default 30 s). */
  pingIntervalMs?: number;
  /** How many recent feed events `state.feed` keeps (default 100). */
  feedSize?: number;
  /** Parse every frame with the protocol's zod schemas (default true). */
  validate?: boolean;
}

export interface ClientState {
  feed: SnapshotFeedItem[];
  position: Position | null;
  positionSequenceId: number;
  networkState: NetworkState | null;
  levels: LevelStats[];
}

const DEFAULT_BACKOFF = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000] as const;
const CLIENT_CLOSE = 4000;
/** Frames whose loss would be a gap in the feed (PONG only moves the cursor: losing one loses nothing). */
const CARRIES_FEED = new Set<string>(['FEED_EVENT', 'REORG', 'REPLAY', 'FULL_SYNC']);

type Listeners = { [K in keyof ClientEvents]: Set<ClientEvents[K]> };

/**
 * The gateway client: connects, authenticates, keeps the cursor, reconnects with backoff and resumes exactly
 * (REPLAY / FULL_SYNC / REORG applied, duplicates dropped by (sequenceId, index)). See the package README.
 */
export class GatewayClient {
  status: ClientStatus = 'idle';
  readonly state: ClientState = {
    feed: [],
    position: null,
    positionSequenceId: -1,
    networkState: null,
    levels: [],
  };
  /** Frames dropped as duplicates (0 against a correct gateway; kept for tests and diagnostics). */
  duplicates = 0;
  #cursor: Cursor | null;
  /** The last (sequenceId, index) delivered: anything at or before it is a duplicate. */
  #lastSeq = -1;
  #lastIndex = Number.POSITIVE_INFINITY;
  /**
   * Sequences recent REORGs orphaned: an event derived from one of them (published before the projector
   * learned of the reorg) may still arrive after the REORG, and is dropped.
   */
  readonly #orphaned = new Set<number>();
  #ws: WebSocketLike | null = null;
  #attempt = 0;
  #connectCount = 0;
  /** Between connect() and close() (or giving up): a socket is open, opening, or about to be. */
  #running = false;
  /**
   * Bumped by connect() and close(): an #open that awaited its token under an older one was superseded (a
   * close, or a close and a new connect, as React StrictMode does) and must not open a socket.
   */
  #generation = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #lastFrameAt = 0;
  #listeners: Listeners = {
    feed: new Set(),
    reorg: new Set(),
    sync: new Set(),
    live: new Set(),
    position: new Set(),
    scanWarning: new Set(),
    systemResetWarning: new Set(),
    warning: new Set(),
    status: new Set(),
    error: new Set(),
    disconnect: new Set(),
    connection: new Set(),
  };
  readonly #urls: readonly string[];
  readonly #WebSocket: WebSocketConstructor;
  readonly #backoff: readonly number[];

  constructor(readonly options: GatewayClientOptions) {
    this.#urls = typeof options.url === 'string' ? [options.url] : options.url;
    if (this.#urls.length === 0) throw new Error('at least one gateway url');
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
    this.#WebSocket = ctor;
    this.#backoff = options.backoffMs ?? DEFAULT_BACKOFF;
    this.#cursor = options.cursor ?? null;
    if (this.#cursor) this.#lastSeq = this.#cursor.sequenceId;
  }

  /** The resume point: save it to resume a later session without a FULL_SYNC. */
  get cursor(): Cursor | null {
    return this.#cursor ? { ...this.#cursor } : null;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  /** Starts connecting; does nothing while already running (connected, connecting or waiting to retry). */
  connect(): this {
    if (this.#running) return this;
    this.#running = true;
    void this.#open(++this.#generation);
    return this;
  }

  /** Closes for good (no reconnect). */
  close(): void {
    this.#running = false;
    this.#generation++;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#stopPing();
    const ws = this.#ws;
    // Detached first: its own close event (later, from a real socket) must not schedule a reconnect.
    this.#ws = null;
    if (ws) {
      ws.close(1000, 'client closed');
      this.#emit('disconnect', { code: 1000, reason: 'client closed', retryInMs: null });
    }
    this.#setStatus('closed');
  }

  async #open(generation: number): Promise<void> {
    this.#retryTimer = null;
    this.#setStatus(this.#connectCount === 0 ? 'connecting' : 'reconnecting');
    let token: string | undefined;
    try {
      const t = this.options.token;
      token = typeof t === 'function' ? await t() : t;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#emit('error', { code: 'CLIENT', message: `getting a token failed: ${String(error)}` });
      return this.#scheduleReconnect(CLIENT_CLOSE, 'token unavailable');
    }
    if (generation !== this.#generation) return;
    const url = this.#urls[this.#connectCount++ % this.#urls.length]!;
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(url);
    } catch (error) {
      // A browser refuses some URLs outright (SecurityError, SyntaxError): report it and try again (the next
      // url, if several), or connect() would do nothing for good while the client believes it is connecting.
      this.#emit('error', { code: 'CLIENT', message: `cannot open a socket to ${url}: ${String(error)}` });
      return this.#scheduleReconnect(CLIENT_CLOSE, 'socket not opened');
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#lastFrameAt = Date.now();
      // AUTH and RECONNECT go together: the gateway handles frames of a socket in order.
      if (token) ws.send(JSON.stringify({ type: 'AUTH', token }));
      // A cursor without its epoch cannot say which incarnation of the stream it counts in: ask for a
      // FULL_SYNC rather than have a gateway guess (an older one would REPLAY it as the current one's).
      const cursor = this.#cursor;
      ws.send(
        JSON.stringify(
          cursor?.epoch
            ? { type: 'RECONNECT', lastSequenceId: cursor.sequenceId, epoch: cursor.epoch }
            : { type: 'RECONNECT', lastSequenceId: null },
        ),
      );
      this.#setStatus('syncing');
      this.#startPing(ws);
    };
    ws.onmessage = (event) => {
      if (this.#ws !== ws) return;
      this.#lastFrameAt = Date.now();
      this.#onFrame(ws, event.data);
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#stopPing();
      this.#scheduleReconnect(event.code, event.reason);
    };
  }

  #scheduleReconnect(code: number, reason: string): void {
    // close() detaches its socket and emits its own disconnect: nothing of a stopped client gets here.
    if (!this.#running) return;
    const fixedToken = typeof this.options.token === 'string';
    if ((code === CloseCode.AUTH_FAILED || code === CloseCode.SESSION_EXPIRED) && fixedToken) {
      // The same token would fail again; a token function may return a fresh one.
      this.#running = false;
      this.#generation++;
      this.#emit('disconnect', { code, reason, retryInMs: null });
      this.#setStatus('closed');
      return;
    }
    const step = this.#backoff[Math.min(this.#attempt, this.#backoff.length - 1)]!;
    this.#attempt++;
    const jitter = this.options.jitter ?? 0.2;
    const delay =
      code === CloseCode.SERVER_SHUTDOWN
        ? // The instance is going away on purpose: move now, spread over the first step.
          Math.random() * step
        : step * (1 - jitter + 2 * jitter * Math.random());
    this.#emit('disconnect', { code, reason, retryInMs: Math.round(delay) });
    this.#setStatus('reconnecting');
    const generation = this.#generation;
    this.#retryTimer = setTimeout(() => void this.#open(generation), delay);
  }

  #startPing(ws: WebSocketLike): void {
    const every = this.options.pingIntervalMs ?? 30_000;
    this.#stopPing();
    this.#pingTimer = setInterval(() => {
      if (Date.now() - this.#lastFrameAt > 2 * every) {
        // Nothing heard for two periods: the connection is dead even if the OS has not noticed.
        this.#abandon(ws, 'heartbeat timeout');
        return;
      }
      if (ws.readyState === 1) ws.send('{"type":"PING"}');
    }, every);
  }

  #stopPing(): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }

  #onFrame(ws: WebSocketLike, data: unknown): void {
    let raw: unknown;
    let frame: ServerFrame;
    try {
      raw = JSON.parse(typeof data === 'string' ? data : String(data));
      frame = this.options.validate === false ? (raw as ServerFrame) : ServerFrame.parse(raw);
    } catch (error) {
      this.#emit('error', { code: 'CLIENT', message: `unreadable frame from the gateway: ${String(error)}` });
      const type = (raw as { type?: unknown } | null | undefined)?.type;
      // Skipping a frame with feed data in it would let the next live frame move the cursor past what it held:
      // a silent gap. Resume from the cursor instead (a frame that is not even JSON may have been one of them).
      if (typeof type !== 'string' || CARRIES_FEED.has(type)) this.#abandon(ws, 'unreadable frame');
      return;
    }
    switch (frame.type) {
      case 'FEED_EVENT':
      case 'REORG':
        this.#applySequenced(frame, false);
        return;
      case 'REPLAY':
        this.#applyReplay(frame);
        return;
      case 'FULL_SYNC':
        this.#applySnapshot(frame.snapshot);
        return;
      case 'POSITION_UPDATE':
        if (frame.sequenceId >= this.state.positionSequenceId) {
          this.state.position = frame.position;
          this.state.positionSequenceId = frame.sequenceId;
          this.#emit('position', frame.position, frame.sequenceId);
        }
        return;
      case 'SCAN_WARNING':
        this.#emit('scanWarning', {
          level: frame.level,
          secondsUntil: frame.secondsUntil,
          scanAt: frame.scanAt,
        });
        if (frame.event) this.#emit('warning', frame.event);
        return;
      case 'SYSTEM_RESET_WARNING':
        this.#emit('systemResetWarning', { secondsUntil: frame.secondsUntil, resetAt: frame.resetAt });
        this.#emit('warning', frame.event);
        return;
      case 'PONG':
        if (frame.sequenceId !== undefined && this.status === 'live') this.#advanceTo(frame.sequenceId);
        return;
      case 'CONNECTION_STATE':
        this.#emit('connection', { status: frame.status, address: frame.address, reason: frame.reason });
        return;
      case 'ERROR':
        this.#emit('error', { code: frame.code, message: frame.message });
        return;
    }
  }

  /** Drops this socket (nothing more is read from it) and reconnects from the cursor, as after any close. */
  #abandon(ws: WebSocketLike, reason: string): void {
    const current = this.#ws === ws;
    // Detached before close(): its close event must not schedule a second reconnect.
    if (current) {
      this.#ws = null;
      this.#stopPing();
    }
    ws.close(CLIENT_CLOSE, reason);
    if (current) this.#scheduleReconnect(CLIENT_CLOSE, reason);
  }

  #applySnapshot(snapshot: Snapshot): void {
    // Sequences of another stream incarnation mean nothing in this one.
    if (this.#cursor?.epoch !== snapshot.epoch) this.#orphaned.clear();
    this.#cursor = { sequenceId: snapshot.sequence, epoch: snapshot.epoch };
    this.#lastSeq = snapshot.sequence;
    this.#lastIndex = Number.POSITIVE_INFINITY;
    this.state.feed = snapshot.recentFeed.slice(-(this.options.feedSize ?? 100));
    this.state.networkState = snapshot.networkState;
    this.state.levels = snapshot.levels;
    this.state.position = snapshot.position;
    this.state.positionSequenceId = snapshot.sequence;
    this.#emit('sync', snapshot);
  }

  #applyReplay(frame: ReplayFrame): void {
    let delivered = 0;
    for (const f of frame.events) if (this.#applySequenced(f, true)) delivered++;
    this.#cursor = {
      sequenceId: Math.max(this.#cursor?.sequenceId ?? 0, frame.toSequenceId),
      epoch: frame.epoch,
    };
    this.#advanceTo(frame.toSequenceId);
    this.#attempt = 0;
    this.#setStatus('live');
    this.#emit('live', {
      fromSequenceId: frame.fromSequenceId,
      toSequenceId: frame.toSequenceId,
      replayed: delivered,
    });
  }

  /** Every frame up to `sequenceId` has been received (REPLAY end, live PONG). */
  #advanceTo(sequenceId: number): void {
    if (
      sequenceId > this.#lastSeq ||
      (sequenceId === this.#lastSeq && this.#lastIndex !== Number.POSITIVE_INFINITY)
    ) {
      this.#lastSeq = sequenceId;
      this.#lastIndex = Number.POSITIVE_INFINITY;
    }
    if (this.#cursor && sequenceId > this.#cursor.sequenceId) this.#cursor.sequenceId = sequenceId;
  }

  /** Delivers one sequenced frame unless it is at or before the last one delivered; true if delivered. */
  #applySequenced(frame: SequencedFrame, replayed: boolean): boolean {
    const index = frame.type === 'FEED_EVENT' ? frame.index : 0;
    const count = frame.type === 'FEED_EVENT' ? frame.count : 1;
    const seq = frame.sequenceId;
    if (seq < this.#lastSeq || (seq === this.#lastSeq && index <= this.#lastIndex)) {
      this.duplicates++;
      return false;
    }
    this.#lastSeq = seq;
    this.#lastIndex = index === count - 1 ? Number.POSITIVE_INFINITY : index;
    if (index === count - 1 && this.#cursor) this.#cursor.sequenceId = seq;
    if (frame.type === 'FEED_EVENT') {
      if (frame.sourceSequenceId !== undefined && this.#orphaned.has(frame.sourceSequenceId)) return true;
      const feed = this.state.feed;
      feed.push(
        frame.sourceSequenceId === undefined
          ? { sequenceId: seq, event: frame.event }
          : { sequenceId: seq, event: frame.event, sourceSequenceId: frame.sourceSequenceId },
      );
      const max = this.options.feedSize ?? 100;
      if (feed.length > max) feed.splice(0, feed.length - max);
      this.#emit('feed', frame.event, { sequenceId: seq, index, count, replayed });
    } else {
      const orphaned = new Set(frame.orphanedSequenceIds);
      for (const s of orphaned) this.#orphaned.add(s);
      // Insertion order: the oldest go first. Derived events follow their source within moments.
      for (const s of this.#orphaned) {
        if (this.#orphaned.size <= 10_000) break;
        this.#orphaned.delete(s);
      }
      this.state.feed = this.state.feed.filter(
        (item) =>
          !orphaned.has(item.sequenceId) &&
          (item.sourceSequenceId === undefined || !orphaned.has(item.sourceSequenceId)),
      );
      this.#emit('reorg', frame.orphanedSequenceIds, seq);
    }
    return true;
  }

  #setStatus(status: ClientStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.#emit('status', status);
  }

  #emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of this.#listeners[event]) {
      try {
        (listener as (...a: Parameters<ClientEvents[K]>) => void)(...args);
      } catch (error) {
        if (event !== 'error')
          this.#emit('error', { code: 'CLIENT', message: `listener failed: ${String(error)}` });
      }
    }
  }
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  return new GatewayClient(options);
}
