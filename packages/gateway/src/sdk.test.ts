import { CloseCode, GatewayClient } from '@ghostnet/client';
import type { FeedEvent, Position } from '@ghostnet/events';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { addressOf, append, appendMany, jackedIn, mixedMessage, reorgNotice } from './test/envelopes.ts';
import { expectedFrames, startTestGateway, streamHeadSnapshots, tokenFor } from './test/harness.ts';

const WS = WebSocket as unknown as ConstructorParameters<typeof GatewayClient>[0]['WebSocket'];

async function until(what: string, check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recorder(client: GatewayClient) {
  const seen: { sequenceId: number; index: number; id: string }[] = [];
  client.on('feed', (event, meta) =>
    seen.push({ sequenceId: meta.sequenceId, index: meta.index, id: event.id }),
  );
  client.on('reorg', (_ids, sequenceId) => seen.push({ sequenceId, index: 0, id: `reorg:${sequenceId}` }));
  return seen;
}

describe('SDK against the gateway', () => {
  let stream: TestStream;
  beforeAll(async () => {
    stream = await createTestStream();
    await appendMany(stream.js, stream.subjects, 200, (i) => mixedMessage(stream.chainId, i));
  });
  afterAll(() => stream?.destroy());

  it('syncs, follows live, survives a shutdown by moving to another instance, without gap or duplicate', async () => {
    const a = await startTestGateway(stream);
    const b = await startTestGateway(stream, { connectionsBucket: `gw_${stream.name}` });
    const me = addressOf(0xbeef);
    const client = new GatewayClient({
      url: [a.url, b.url],
      token: () => tokenFor(me),
      WebSocket: WS,
      // Fast enough to matter within the test, slow enough that a busy machine's stall is not a dead peer.
      pingIntervalMs: 1_000,
    });
    const seen = recorder(client);
    const syncs: number[] = [];
    client.on('sync', (s) => syncs.push(s.sequence));
    client.connect();
    await until('live', () => client.status === 'live');
    const first = client.cursor!;
    expect(first.epoch).toBe(stream.epoch);
    expect(syncs).toEqual([first.sequenceId]);

    const writer = (async () => {
      for (let i = 0; i < 300; i++) {
        await append(stream.js, stream.subjects, mixedMessage(stream.chainId, 1000 + i));
        if (i === 100) await a.gateway.stop(); // SERVER_SHUTDOWN: the client moves to b and resumes
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const disconnects: number[] = [];
    client.on('disconnect', (d) => disconnects.push(d.code));
    await writer;
    await append(stream.js, stream.subjects, reorgNotice(stream.chainId, [first.sequenceId + 5]));
    const head = (await stream.jsm.streams.info(stream.name)).state.last_seq;
    await until('caught up', () => (client.cursor?.sequenceId ?? 0) >= head);
    expect(disconnects).toEqual([CloseCode.SERVER_SHUTDOWN]);
    expect(syncs).toHaveLength(1); // the move was a REPLAY, not a FULL_SYNC
    expect(seen).toEqual(await expectedFrames(stream, first.sequenceId, head));
    expect(client.duplicates).toBe(0);
    // The REORG took the orphaned sequence's events out of the SDK's recent feed.
    expect(client.state.feed.some((item) => item.sequenceId === first.sequenceId + 5)).toBe(false);
    client.close();
    await a.stop();
    await b.stop();
  }, 30_000);

  it('drops frames it already has when resuming from inside a multi-frame message', async () => {
    const gw = await startTestGateway(stream, { allowAnonymousFeed: true });
    const whale = await append(
      stream.js,
      stream.subjects,
      jackedIn(stream.chainId, addressOf(0x1), { amount: '5000000000000000000000' }),
    );
    // A client that holds frame 0 of `whale` but not frame 1 (JACK_IN + WHALE_ALERT): its cursor is whale − 1.
    const client = new GatewayClient({
      url: gw.url,
      WebSocket: WS,
      cursor: { sequenceId: whale - 1, epoch: stream.epoch },
    });
    const seen = recorder(client);
    client.connect();
    await until('live', () => client.status === 'live');
    expect(seen.map((s) => `${s.sequenceId}:${s.index}`)).toEqual([`${whale}:0`, `${whale}:1`]);
    expect(client.cursor?.sequenceId).toBe(whale);
    client.close();
    await gw.stop();
  });

  it('POSITION_UPDATE goes to the affected user only, once the projection has applied the event', async () => {
    const me = addressOf(0xa11ce);
    const other = addressOf(0xb0b);
    const positions = new Map<string, Position>();
    // Caught up at first: the refresh every socket gets after its resume goes out before the test starts.
    let checkpoint = (await stream.jsm.streams.info(stream.name)).state.last_seq;
    const base = streamHeadSnapshots(stream);
    const gw = await startTestGateway(stream, {
      snapshots: {
        ...base,
        async positionsCheckpoint() {
          return { sequence: checkpoint, epoch: stream.epoch };
        },
        async readPosition(address) {
          return { position: positions.get(address) ?? null, sequence: checkpoint, epoch: stream.epoch };
        },
      },
      positionTickMs: 20,
    });
    const mine = new GatewayClient({ url: gw.url, token: await tokenFor(me), WebSocket: WS });
    const theirs = new GatewayClient({ url: gw.url, token: await tokenFor(other), WebSocket: WS });
    const updates: [string, Position | null, number][] = [];
    mine.on('position', (p, s) => updates.push(['me', p, s]));
    theirs.on('position', (p, s) => updates.push(['other', p, s]));
    mine.connect();
    theirs.connect();
    await until('live', () => mine.status === 'live' && theirs.status === 'live');
    await until('resume refresh', () => updates.length === 2);
    expect(updates.map(([who, position]) => `${who}:${position}`).sort()).toEqual(['me:null', 'other:null']);
    updates.length = 0;

    const seq = await append(stream.js, stream.subjects, jackedIn(stream.chainId, me));
    await new Promise((r) => setTimeout(r, 150));
    expect(updates).toEqual([]); // the projection has not applied it yet
    positions.set(me, {
      id: `${me}:1`,
      address: me,
      level: 'DARKNET',
      stakedAmount: '50000000000000000000',
      entryTimestamp: Date.now(),
      earnedYield: '0',
      ghostStreak: 0,
      nextScanTimestamp: null,
      boosts: [{ type: 'DEATH_REDUCTION', valueBps: 1500, expiresAt: Date.now() + 3_600_000 }],
    });
    checkpoint = seq;
    await until('position update', () => updates.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(updates).toEqual([['me', positions.get(me), seq]]);
    expect(mine.state.position).toEqual(positions.get(me));
    mine.close();
    theirs.close();
    await gw.stop();
  });

  it('SCAN_WARNING 60 s before a level scan and SYSTEM_RESET_WARNING 5 min before the reset, with their feed events, to live and late sockets', async () => {
    const scanAt = Date.now() + 63_000; // the first client is live well before the warnings
    const resetAt = Date.now() + 303_500;
    const deadlines = {
      scans: [
        { level: 'BLACK_ICE' as const, at: scanAt },
        { level: 'VAULT' as const, at: Date.now() + 4 * 3600_000 },
        { level: 'DARKNET' as const, at: null },
      ],
      systemReset: resetAt,
    };
    const gw = await startTestGateway(stream, {
      snapshots: { ...streamHeadSnapshots(stream), readDeadlines: async () => deadlines },
    });
    const watch = async (address: string) => {
      const client = new GatewayClient({ url: gw.url, token: await tokenFor(address), WebSocket: WS });
      const warnings: { level: string; secondsUntil: number; scanAt: number; at: number }[] = [];
      const resets: { secondsUntil: number; resetAt: number }[] = [];
      const events: FeedEvent[] = [];
      client.on('scanWarning', (w) => warnings.push({ ...w, at: Date.now() }));
      client.on('systemResetWarning', (w) => resets.push(w));
      client.on('warning', (e) => events.push(e));
      client.connect();
      return { client, warnings, resets, events };
    };
    const early = await watch(addressOf(0x5ca7));
    await until('live', () => early.client.status === 'live', 10_000);
    await until('warnings', () => early.warnings.length > 0 && early.resets.length > 0, 10_000);
    const [warning] = early.warnings;
    // Whole seconds, counted when sent: a timer late by more than half a second on a busy machine says 59.
    expect(early.warnings).toEqual([
      { level: 'BLACK_ICE', secondsUntil: expect.toBeOneOf([59, 60]), scanAt, at: expect.any(Number) },
    ]);
    // Sent at the lead time, not before (timers may only run late, and only slightly on an idle machine).
    expect(warning!.at).toBeGreaterThanOrEqual(scanAt - 60_000 - 5);
    expect(early.resets).toEqual([{ secondsUntil: expect.toBeOneOf([299, 300]), resetAt }]);
    // The frontend's feed events, with ids and timestamps from the deadline (the same on every instance).
    expect(early.events.map((e) => e.id).sort()).toEqual(
      [`scan-warning:BLACK_ICE:${scanAt}`, `system-reset-warning:${resetAt}`].sort(),
    );
    expect(early.events).toContainEqual({
      id: `scan-warning:BLACK_ICE:${scanAt}`,
      type: 'TRACE_SCAN_WARNING',
      timestamp: scanAt - 60_000,
      data: { level: 'BLACK_ICE', secondsUntil: warning!.secondsUntil },
    });
    expect(early.events).toContainEqual({
      id: `system-reset-warning:${resetAt}`,
      type: 'SYSTEM_RESET_WARNING',
      timestamp: resetAt - 300_000,
      data: { secondsUntil: early.resets[0]!.secondsUntil },
    });

    // A socket going live after the warnings went out still gets them, with the time that remains.
    await new Promise((r) => setTimeout(r, 1_200));
    const late = await watch(addressOf(0x5ca8));
    await until('late warnings', () => late.warnings.length > 0 && late.resets.length > 0, 10_000);
    expect(late.warnings).toEqual([
      { level: 'BLACK_ICE', secondsUntil: expect.any(Number), scanAt, at: expect.any(Number) },
    ]);
    // Rounded when sent, received a moment later: within a second of what remained on arrival.
    const remaining = (scanAt - late.warnings[0]!.at) / 1000;
    expect(Math.abs(late.warnings[0]!.secondsUntil - remaining)).toBeLessThanOrEqual(1);
    expect(late.warnings[0]!.secondsUntil).toBeLessThan(60);
    expect(late.resets[0]!.secondsUntil).toBeLessThan(300);
    expect(late.events.map((e) => e.id).sort()).toEqual(early.events.map((e) => e.id).sort());
    expect(early.warnings).toHaveLength(1);
    expect(early.resets).toHaveLength(1);

    // A deposit pushes the reset back: the new deadline is warned again, under a new id.
    const pushedTo = Date.now() + 301_000;
    deadlines.systemReset = pushedTo;
    await gw.gateway.refreshWarnings();
    await until('the new reset warning', () => early.resets.length === 2, 10_000);
    expect(early.resets[1]!.resetAt).toBe(pushedTo);
    expect(early.events.at(-1)!.id).toBe(`system-reset-warning:${pushedTo}`);
    early.client.close();
    late.client.close();
    await gw.stop();
  });
});
