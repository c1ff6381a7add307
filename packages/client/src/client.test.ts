import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GatewayClient, type WebSocketLike } from './client.ts';
import { CloseCode } from './protocol.ts';

/** A scripted socket: unit tests of the client's own logic (backoff, dedupe, cursor); the real gateway is tested in @ghostnet/gateway. */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code: number) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const feed = (sequenceId: number, index: number, count: number) => ({
  type: 'FEED_EVENT',
  sequenceId,
  index,
  count,
  event: { id: `e${sequenceId}.${index}`, type: 'TRACE_SCAN_START', timestamp: 1, data: { level: 'VAULT' } },
});

/** The gateway's answer to a cursor at 12 of epoch E: sequence 13 (two events) and 14 (one). */
const replayAfter12 = () => ({
  type: 'REPLAY',
  fromSequenceId: 12,
  toSequenceId: 14,
  epoch: 'E',
  events: [feed(13, 0, 2), feed(13, 1, 2), feed(14, 0, 1)],
});

describe('GatewayClient', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // jitter factor exactly 1
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('sends AUTH then RECONNECT with its cursor, rotating through the urls', async () => {
    const client = new GatewayClient({
      url: ['ws://a', 'ws://b'],
      token: 't0k',
      WebSocket: FakeSocket,
      cursor: { sequenceId: 41, epoch: 'E' },
    }).connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.open();
    expect(FakeSocket.all[0]!.url).toBe('ws://a');
    expect(FakeSocket.all[0]!.sent).toEqual([
      { type: 'AUTH', token: 't0k' },
      { type: 'RECONNECT', lastSequenceId: 41, epoch: 'E' },
    ]);
    FakeSocket.all[0]!.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all[1]!.url).toBe('ws://b');
    client.close();
  });

  it('a socket the browser refuses to open is reported and retried, not left connecting for good', async () => {
    let refuse = true;
    class Refusing extends FakeSocket {
      constructor(url: string) {
        if (refuse) throw new SyntaxError(`invalid url ${url}`);
        super(url);
      }
    }
    const errors: string[] = [];
    const statuses: string[] = [];
    const client = new GatewayClient({ url: 'ws://a', token: 't', WebSocket: Refusing });
    client.on('error', (e) => errors.push(e.message));
    client.on('status', (s) => statuses.push(s));
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toEqual([expect.stringContaining('cannot open a socket to ws://a')]);
    expect(statuses.at(-1)).toBe('reconnecting');
    refuse = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(1);
    FakeSocket.all[0]!.open();
    expect(FakeSocket.all[0]!.sent).toEqual([
      { type: 'AUTH', token: 't' },
      { type: 'RECONNECT', lastSequenceId: null },
    ]);
    client.close();
  });

  it('backs off 1, 2, 4, 8, 16, 30, 30 s (±20% jitter), and starts over once live again', async () => {
    const client = new GatewayClient({ url: 'ws://a', WebSocket: FakeSocket }).connect();
    const delays: (number | null)[] = [];
    client.on('disconnect', (d) => delays.push(d.retryInMs));
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 7; i++) {
      FakeSocket.all.at(-1)!.drop(1006);
      await vi.advanceTimersByTimeAsync(30_000);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    const socket = FakeSocket.all.at(-1)!;
    socket.open();
    socket.receive({ type: 'REPLAY', fromSequenceId: 0, toSequenceId: 0, epoch: 'E', events: [] });
    socket.drop(1006);
    expect(delays.at(-1)).toBe(1000);
    client.close();
  });

  it('gives up on AUTH_FAILED with a fixed token; asks a token function again', async () => {
    const fixed = new GatewayClient({ url: 'ws://a', token: 'bad', WebSocket: FakeSocket }).connect();
    const codes: (number | null)[] = [];
    fixed.on('disconnect', (d) => codes.push(d.retryInMs));
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.receive({ type: 'ERROR', code: 'TOKEN_EXPIRED', message: 'token expired' });
    FakeSocket.all[0]!.drop(CloseCode.AUTH_FAILED);
    expect(codes).toEqual([null]);
    expect(fixed.status).toBe('closed');

    let asked = 0;
    const renewing = new GatewayClient({
      url: 'ws://a',
      token: () => `t${++asked}`,
      WebSocket: FakeSocket,
    }).connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all.at(-1)!.open();
    FakeSocket.all.at(-1)!.drop(CloseCode.SESSION_EXPIRED);
    await vi.advanceTimersByTimeAsync(1000);
    FakeSocket.all.at(-1)!.open();
    expect(FakeSocket.all.at(-1)!.sent[0]).toEqual({ type: 'AUTH', token: 't2' });
    renewing.close();
  });

  it('moves the cursor only past complete messages, and drops what it already has', async () => {
    const client = new GatewayClient({ url: 'ws://a', WebSocket: FakeSocket }).connect();
    const seen: string[] = [];
    client.on('feed', (_e, m) => seen.push(`${m.sequenceId}.${m.index}${m.replayed ? 'r' : ''}`));
    await vi.advanceTimersByTimeAsync(0);
    const s = FakeSocket.all[0]!;
    s.open();
    s.receive({
      type: 'FULL_SYNC',
      snapshot: { sequence: 10, epoch: 'E', networkState: null, levels: [], position: null, recentFeed: [] },
    });
    s.receive({ type: 'REPLAY', fromSequenceId: 10, toSequenceId: 12, epoch: 'E', events: [feed(11, 0, 1)] });
    expect(client.cursor).toEqual({ sequenceId: 12, epoch: 'E' });
    s.receive(feed(13, 0, 2));
    expect(client.cursor?.sequenceId).toBe(12); // 13 is not complete yet
    s.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const t = FakeSocket.all[1]!;
    t.open();
    expect(t.sent).toEqual([{ type: 'RECONNECT', lastSequenceId: 12, epoch: 'E' }]);
    t.receive(replayAfter12());
    t.receive(feed(14, 0, 1)); // a duplicate
    t.receive(feed(15, 0, 1));
    t.receive({ type: 'PONG', sequenceId: 20 });
    expect(seen).toEqual(['11.0r', '13.0', '13.1r', '14.0r', '15.0']);
    expect(client.duplicates).toBe(2);
    expect(client.cursor?.sequenceId).toBe(20);
    client.close();
  });

  it('a REORG takes out the orphaned events and the events derived from them', async () => {
    const client = new GatewayClient({ url: 'ws://a', WebSocket: FakeSocket }).connect();
    await vi.advanceTimersByTimeAsync(0);
    const s = FakeSocket.all[0]!;
    s.open();
    s.receive({
      type: 'FULL_SYNC',
      snapshot: {
        sequence: 10,
        epoch: 'E',
        networkState: null,
        levels: [],
        position: null,
        recentFeed: [
          { sequenceId: 9, event: feed(9, 0, 1).event },
          { sequenceId: 10, event: feed(10, 0, 1).event, sourceSequenceId: 9 },
        ],
      },
    });
    s.receive({ type: 'REPLAY', fromSequenceId: 10, toSequenceId: 10, epoch: 'E', events: [] });
    s.receive(feed(11, 0, 1));
    s.receive({ ...feed(12, 0, 1), sourceSequenceId: 11 });
    s.receive(feed(13, 0, 1));
    const seen: number[] = [];
    client.on('feed', (_e, m) => seen.push(m.sequenceId));
    s.receive({ type: 'REORG', sequenceId: 14, orphanedSequenceIds: [9, 11] });
    expect(client.state.feed.map((item) => item.sequenceId)).toEqual([13]);
    // A derived event of an orphaned message that arrives after the REORG is dropped; the cursor moves on.
    s.receive({ ...feed(15, 0, 1), sourceSequenceId: 11 });
    s.receive(feed(16, 0, 1));
    expect(client.state.feed.map((item) => item.sequenceId)).toEqual([13, 16]);
    expect(seen).toEqual([16]);
    expect(client.cursor?.sequenceId).toBe(16);
    // A recreated stream numbers from 1 again: what was orphaned in the old one is not in the new one.
    s.receive({
      type: 'FULL_SYNC',
      snapshot: { sequence: 10, epoch: 'F', networkState: null, levels: [], position: null, recentFeed: [] },
    });
    s.receive({ type: 'REPLAY', fromSequenceId: 10, toSequenceId: 10, epoch: 'F', events: [] });
    s.receive({ ...feed(12, 0, 1), sourceSequenceId: 11 });
    expect(client.state.feed.map((item) => item.sequenceId)).toEqual([12]);
    client.close();
  });

  it('an unreadable frame that may carry feed data closes the socket and resumes from the cursor, never past it', async () => {
    const client = new GatewayClient({ url: 'ws://a', WebSocket: FakeSocket }).connect();
    const seen: string[] = [];
    const errors: string[] = [];
    client.on('feed', (_e, m) => seen.push(`${m.sequenceId}.${m.index}`));
    client.on('error', (e) => errors.push(e.code));
    await vi.advanceTimersByTimeAsync(0);
    const s = FakeSocket.all[0]!;
    s.open();
    s.receive({ type: 'REPLAY', fromSequenceId: 10, toSequenceId: 12, epoch: 'E', events: [feed(11, 0, 1)] });
    s.receive(feed(13, 0, 2));
    s.receive({ ...feed(13, 1, 2), event: { id: 'x', type: 'NOT_AN_EVENT' } }); // fails the schema
    expect(errors).toEqual(['CLIENT']);
    expect(s.readyState).toBe(3);
    s.receive(feed(14, 0, 1)); // whatever was still on its way from that socket is not taken
    expect(client.cursor?.sequenceId).toBe(12);
    expect(seen).toEqual(['11.0', '13.0']);

    await vi.advanceTimersByTimeAsync(1000);
    const t = FakeSocket.all[1]!;
    t.open();
    expect(t.sent).toEqual([{ type: 'RECONNECT', lastSequenceId: 12, epoch: 'E' }]);
    t.receive(replayAfter12());
    expect(seen).toEqual(['11.0', '13.0', '13.1', '14.0']);

    // Not even JSON: it may have been anything, so the same.
    t.onmessage?.({ data: '{"type":"FEED_EVENT","sequenceId":15,' });
    expect(t.readyState).toBe(3);
    expect(client.cursor?.sequenceId).toBe(14);

    // A broken frame that carries no feed data (a position) is reported and skipped: the socket stays.
    await vi.advanceTimersByTimeAsync(1000);
    const u = FakeSocket.all[2]!;
    u.open();
    u.receive({ type: 'REPLAY', fromSequenceId: 14, toSequenceId: 14, epoch: 'E', events: [] });
    u.receive({ type: 'POSITION_UPDATE', position: { nonsense: true }, sequenceId: 14 });
    expect(u.readyState).toBe(1);
    expect(errors).toEqual(['CLIENT', 'CLIENT', 'CLIENT']);
    client.close();
  });

  it('connect() while the token is being fetched opens one socket; connect(), close(), connect() leaves no orphan', async () => {
    const tokens: ((t: string) => void)[] = [];
    const token = () => new Promise<string>((resolve) => tokens.push(resolve));
    const twice = new GatewayClient({ url: 'ws://a', token, WebSocket: FakeSocket });
    twice.connect();
    twice.connect();
    for (const resolve of tokens.splice(0)) resolve('t');
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(1);
    twice.close();

    // React StrictMode mounts, unmounts and mounts again at once.
    FakeSocket.all = [];
    const strict = new GatewayClient({ url: 'ws://a', token, WebSocket: FakeSocket });
    strict.connect();
    strict.close();
    strict.connect();
    for (const resolve of tokens.splice(0)) resolve('t');
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(1);
    FakeSocket.all[0]!.open();
    expect(strict.status).toBe('syncing');
    strict.close();
    expect(FakeSocket.all.map((s) => s.readyState)).toEqual([3]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('close() emits disconnect with retryInMs null, and does not reconnect', async () => {
    const client = new GatewayClient({ url: 'ws://a', WebSocket: FakeSocket }).connect();
    const disconnects: unknown[] = [];
    client.on('disconnect', (d) => disconnects.push(d));
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.open();
    client.close();
    expect(disconnects).toEqual([{ code: 1000, reason: 'client closed', retryInMs: null }]);
    expect(client.status).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(disconnects).toHaveLength(1);
  });

  it('a cursor without an epoch is not sent as one: it asks for a FULL_SYNC', async () => {
    const client = new GatewayClient({
      url: 'ws://a',
      WebSocket: FakeSocket,
      cursor: { sequenceId: 41, epoch: '' },
    }).connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.open();
    expect(FakeSocket.all[0]!.sent).toEqual([{ type: 'RECONNECT', lastSequenceId: null }]);
    client.close();
  });

  it('closes a silent connection after two ping periods and reconnects', async () => {
    const client = new GatewayClient({
      url: 'ws://a',
      WebSocket: FakeSocket,
      pingIntervalMs: 1000,
    }).connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.open();
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all[0]!.sent.at(-1)).toEqual({ type: 'PING' });
    await vi.advanceTimersByTimeAsync(2500);
    expect(FakeSocket.all[0]!.readyState).toBe(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(2);
    client.close();
  });
});
