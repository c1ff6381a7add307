import type { Socket } from 'node:net';
import { CloseCode } from '@ghostnet/client/protocol';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { describe, expect, it } from 'vitest';
import { addressOf, append, appendMany, jackedIn, mixedMessage } from '../test/envelopes.ts';
import { RawClient, startTestGateway, tokenFor } from '../test/harness.ts';

async function liveClient(url: string, stream: TestStream, cursor: number | null = 0) {
  const client = new RawClient(url);
  await client.opened;
  client.send({ type: 'AUTH', token: await tokenFor(addressOf(0xd00d)) });
  client.send({ type: 'RECONNECT', lastSequenceId: cursor, epoch: stream.epoch });
  await client.next('REPLAY');
  return client;
}

describe('gateway lifecycle', () => {
  it('pings silent sockets and closes dead peers after two heartbeats', async () => {
    const stream = await createTestStream();
    const gw = await startTestGateway(stream, { limits: { heartbeatSeconds: 4 } });
    try {
      const alive = await liveClient(gw.url, stream);
      const dead = await liveClient(gw.url, stream);
      let pings = 0;
      alive.ws.on('ping', () => pings++);
      (dead.ws as unknown as { _socket: Socket })._socket.pause(); // no pong will come back
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (gw.gateway.stats().connections === 1) {
            clearInterval(timer);
            resolve();
          } else if (Date.now() - started > 12_000) {
            clearInterval(timer);
            reject(new Error('dead peer not closed'));
          }
        }, 50);
      });
      expect(pings).toBeGreaterThanOrEqual(1);
      expect(alive.ws.readyState).toBe(alive.ws.OPEN);
      alive.close();
    } finally {
      await gw.stop();
      await stream.destroy();
    }
  }, 20_000);

  it('a stream recreated under a running gateway: live sockets get STREAM_RESET, old cursors FULL_SYNC', async () => {
    const stream = await createTestStream();
    await appendMany(stream.js, stream.subjects, 50, (i) => mixedMessage(stream.chainId, i));
    const gw = await startTestGateway(stream, { allowAnonymousFeed: true, epochCheckMs: 300 });
    try {
      const client = await liveClient(gw.url, stream);
      const oldEpoch = stream.epoch;
      const config = (await stream.jsm.streams.info(stream.name)).config;
      await stream.jsm.streams.delete(stream.name);
      await new Promise((r) => setTimeout(r, 20)); // a different `created` timestamp
      const recreated = await stream.jsm.streams.add(config);
      expect(recreated.created).not.toBe(oldEpoch);
      await append(stream.js, stream.subjects, jackedIn(stream.chainId, addressOf(7)));
      await gw.gateway.whenReady();
      expect((await client.closed).code).toBe(CloseCode.STREAM_RESET);
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (gw.gateway.stats().epoch === recreated.created && gw.gateway.stats().head === 1) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      });
      // The client comes back with its old cursor (sequence 50 of the old epoch): FULL_SYNC of the new one.
      const back = new RawClient(gw.url);
      await back.opened;
      back.send({ type: 'RECONNECT', lastSequenceId: 50, epoch: oldEpoch });
      const sync = await back.next('FULL_SYNC');
      expect(sync.snapshot.epoch).toBe(recreated.created);
      const replay = await back.next('REPLAY');
      expect(replay.epoch).toBe(recreated.created);
      back.close();
    } finally {
      await gw.stop();
      await stream.destroy();
    }
  }, 30_000);

  it('its consumer deleted under it (same stream): follows on from head + 1, live sockets miss nothing', async () => {
    const stream = await createTestStream();
    await appendMany(stream.js, stream.subjects, 20, (i) => mixedMessage(stream.chainId, i));
    const gw = await startTestGateway(stream, { epochCheckMs: 300 });
    try {
      const client = await liveClient(gw.url, stream, 20);
      for await (const c of stream.jsm.consumers.list(stream.name))
        await stream.jsm.consumers.delete(stream.name, c.name);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const e = jackedIn(stream.chainId, addressOf(0x900 + i));
        ids.push(e.id);
        await append(stream.js, stream.subjects, e);
      }
      const started = Date.now();
      while (
        client.frames.filter((f) => f.type === 'FEED_EVENT').length < 5 &&
        Date.now() - started < 10_000
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(client.frames.flatMap((f) => (f.type === 'FEED_EVENT' ? [f.event.id] : []))).toEqual(ids);
      expect(gw.gateway.stats().head).toBe(25);
      client.close();
    } finally {
      await gw.stop();
      await stream.destroy();
    }
  });
});
