import type { Socket } from 'node:net';
import { CloseCode, type ServerFrame } from '@ghostnet/client/protocol';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, append, crewEvent, scanSurvivors } from '../test/envelopes.ts';
import { expectedFrames, RawClient, startTestGateway, tokenFor } from '../test/harness.ts';

const feedKeys = (frames: readonly ServerFrame[]) =>
  frames.flatMap((f) =>
    f.type === 'REPLAY'
      ? f.events.flatMap((e) => (e.type === 'FEED_EVENT' ? [`${e.sequenceId}:${e.index}`] : []))
      : f.type === 'FEED_EVENT'
        ? [`${f.sequenceId}:${f.index}`]
        : [],
  );

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

describe('slow consumer', () => {
  let stream: TestStream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    stream = await createTestStream();
    gw = await startTestGateway(stream, { limits: { maxBufferedBytes: 256 * 1024 } });
  });
  afterAll(async () => {
    await gw?.stop();
    await stream?.destroy();
  });

  async function live(who: number) {
    const client = new RawClient(gw.url);
    await client.opened;
    client.send({ type: 'AUTH', token: await tokenFor(addressOf(who)) });
    client.send({ type: 'RECONNECT', lastSequenceId: 0, epoch: stream.epoch });
    await client.next('REPLAY');
    return client;
  }

  it('is closed with SLOW_CONSUMER, resumes exactly, and the others keep their latency', async () => {
    const latencies: number[][] = [[], []];
    let phase = 0;
    const others = await Promise.all([1, 2, 3, 4, 5].map((n) => live(0x500 + n)));
    for (const c of others) {
      c.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ServerFrame;
        if (frame.type === 'FEED_EVENT') latencies[phase]!.push(Date.now() - frame.event.timestamp);
      });
    }
    const slow = await live(0x666);
    const start = (await stream.jsm.streams.info(stream.name)).state.last_seq;

    // ~10 KB frames, ~250/s: phase 0 with nobody slow, phase 1 with one socket not reading at all.
    const pump = async (ms: number, until?: () => boolean) => {
      const end = Date.now() + ms;
      let i = 0;
      while (Date.now() < end && !until?.()) {
        const e = crewEvent(stream.chainId, i++, 'x'.repeat(10_000));
        await append(stream.js, stream.subjects, e);
        await new Promise((r) => setTimeout(r, 4));
      }
    };
    await pump(1_000);
    phase = 1;
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    await pump(15_000, () => gw.gateway.stats().slowConsumers > 0);
    expect(gw.gateway.stats().slowConsumers).toBe(1);
    await pump(500);
    const head = (await stream.jsm.streams.info(stream.name)).state.last_seq;

    // The close frame waits behind what was buffered: reading again delivers the backlog, then the code.
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await slow.closed).code).toBe(CloseCode.SLOW_CONSUMER);
    const got = feedKeys(slow.frames);
    const expected = await expectedFrames(stream, start, head);
    expect(got.length).toBeLessThan(expected.length);
    expect(got).toEqual(expected.slice(0, got.length).map((e) => `${e.sequenceId}:${e.index}`));

    // It resumes from its cursor and ends with exactly the stream.
    const cursor = Number(got.at(-1)?.split(':')[0] ?? start);
    const again = new RawClient(gw.url);
    await again.opened;
    again.send({ type: 'AUTH', token: await tokenFor(addressOf(0x666)) });
    again.send({ type: 'RECONNECT', lastSequenceId: cursor, epoch: stream.epoch });
    const replay = await again.next('REPLAY');
    expect([...got, ...feedKeys([replay])]).toEqual(expected.map((e) => `${e.sequenceId}:${e.index}`));
    again.close();

    // The other sockets: every frame, and no latency penalty from the stuck one.
    for (const c of others) {
      expect(feedKeys(c.frames).slice(-expected.length)).toEqual(
        expected.map((e) => `${e.sequenceId}:${e.index}`),
      );
      expect(c.ws.readyState).toBe(c.ws.OPEN);
      c.close();
    }
    const [before, during] = latencies as [number[], number[]];
    const summary = { before: percentile(before, 99), during: percentile(during, 99), n: during.length };
    expect(during.length, JSON.stringify(summary)).toBeGreaterThan(500);
    // Head-of-line blocking behind the stuck socket would show as seconds; the bound leaves room for a busy machine.
    expect(summary.during, JSON.stringify(summary)).toBeLessThan(Math.max(250, 3 * summary.before));
  }, 60_000);

  it("a scan's survivors, bursts beyond the buffer limit, keep a socket that was keeping up; a stuck one is still closed", async () => {
    const client = await live(0x777);
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    const limit = gw.gateway.limits.maxBufferedBytes;
    const before = gw.gateway.stats().slowConsumers;
    // Scans of 800 survivors: ~190 KB of frames each at once, over a quarter of the 256 KB limit.
    const survivors = Array.from({ length: 800 }, (_, i) => addressOf(0x10000 + i));
    let n = 0;
    const burst = async () => {
      const seq = await append(stream.js, stream.subjects, scanSurvivors(stream.chainId, ++n, survivors));
      while (gw.gateway.stats().head < seq) await new Promise((r) => setTimeout(r, 5));
      return seq;
    };
    socket.pause();
    // Until the gateway's own buffer for this socket passes the limit (the kernel's buffers fill first).
    const seqs: number[] = [];
    while (gw.gateway.stats().maxBufferedBytes <= limit && n < 400) seqs.push(await burst());
    expect(gw.gateway.stats().maxBufferedBytes).toBeGreaterThan(limit);
    await new Promise((r) => setTimeout(r, 500));
    expect(gw.gateway.stats().slowConsumers).toBe(before);
    socket.resume();
    for (const seq of seqs) await waitForFrames(client, seq, survivors.length);
    expect(client.ws.readyState).toBe(client.ws.OPEN);

    // A socket that stopped reading gets no more than the bounded allowance: it is closed.
    socket.pause();
    let peak = 0;
    while (gw.gateway.stats().slowConsumers === before && n < 800) {
      await burst();
      peak = Math.max(peak, gw.gateway.stats().maxBufferedBytes);
      // One burst per sweep (every 100 ms), so that the peak shows the allowance, not the sweep's period.
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(gw.gateway.stats().slowConsumers).toBe(before + 1);
    // Its unsent bytes stayed within the limit, the bounded allowance (4 limits) and one burst.
    expect(peak).toBeLessThanOrEqual(5 * limit + 200 * 1024);
    socket.resume();
    expect((await client.closed).code).toBe(CloseCode.SLOW_CONSUMER);
  }, 60_000);
});

async function waitForFrames(client: RawClient, seq: number, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (client.frames.filter((f) => f.type === 'FEED_EVENT' && f.sequenceId === seq).length < count) {
    if (Date.now() > deadline) throw new Error('the burst did not arrive');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('slow consumer on a quiet stream (nothing published)', () => {
  let stream: TestStream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    stream = await createTestStream();
    // PINGs answered without a rate limit: only the buffer sweep stands between a flood and the memory.
    gw = await startTestGateway(stream, {
      limits: { maxBufferedBytes: 64 * 1024, pingsPerSecond: 1e9 },
      connectionsBucket: `gwq_${stream.name}`,
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await stream.jsm.streams.delete(`KV_gwq_${stream.name}`).catch(() => {});
    await stream?.destroy();
  });

  it('sockets that stop reading while their own answers pile up are closed with SLOW_CONSUMER, live or not', async () => {
    const live = new RawClient(gw.url);
    await live.opened;
    live.send({ type: 'AUTH', token: await tokenFor(addressOf(0x901)) });
    live.send({ type: 'RECONNECT', lastSequenceId: 0, epoch: stream.epoch });
    await live.next('REPLAY');
    // Authenticated, never asked for the feed: not a live socket.
    const idle = new RawClient(gw.url);
    await idle.opened;
    idle.send({ type: 'AUTH', token: await tokenFor(addressOf(0x902)) });
    await idle.next('CONNECTION_STATE');

    const before = gw.gateway.stats().slowConsumers;
    const sockets = [live, idle].map((c) => (c.ws as unknown as { _socket: Socket })._socket);
    for (const s of sockets) s.pause();
    // Each PONG is ~30 bytes: the kernel's buffers (a few MB on loopback) fill first, then the gateway's.
    let sent = 0;
    while (gw.gateway.stats().slowConsumers < before + 2 && sent < 600_000) {
      for (let i = 0; i < 2_000; i++) {
        if (live.ws.readyState === live.ws.OPEN) live.ws.send('{"type":"PING"}');
        if (idle.ws.readyState === idle.ws.OPEN) idle.ws.send('{"type":"PING"}');
      }
      sent += 2_000;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(gw.gateway.stats().slowConsumers).toBe(before + 2);
    expect(gw.gateway.stats().published).toBe(0);
    for (const s of sockets) s.resume();
    expect((await live.closed).code).toBe(CloseCode.SLOW_CONSUMER);
    expect((await idle.closed).code).toBe(CloseCode.SLOW_CONSUMER);
  }, 120_000);
});
