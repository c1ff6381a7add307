import type { ServerFrame } from '@ghostnet/client/protocol';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, append, appendMany, mixedMessage } from '../test/envelopes.ts';
import {
  type ExpectedFrame,
  expectedFrames,
  RawClient,
  startTestGateway,
  tokenFor,
} from '../test/harness.ts';

function received(frames: readonly ServerFrame[]): ExpectedFrame[] {
  const out: ExpectedFrame[] = [];
  const push = (f: ServerFrame) => {
    if (f.type === 'FEED_EVENT') out.push({ sequenceId: f.sequenceId, index: f.index, id: f.event.id });
    if (f.type === 'REORG') out.push({ sequenceId: f.sequenceId, index: 0, id: `reorg:${f.sequenceId}` });
  };
  for (const f of frames) {
    if (f.type === 'REPLAY') f.events.forEach(push);
    else push(f);
  }
  return out;
}

/** Until the client's live PONG says it has everything up to `head`. */
async function caughtUp(client: RawClient, head: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const from = client.frames.length;
    client.send({ type: 'PING' });
    const pong = await client.next('PONG', 5_000, from);
    if ((pong.sequenceId ?? 0) >= head) return;
    if (Date.now() > deadline) throw new Error(`client stuck at ${pong.sequenceId}, head ${head}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('resume while live events keep arriving', () => {
  let stream: TestStream;
  let memory: Awaited<ReturnType<typeof startTestGateway>>;
  let fromStream: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    stream = await createTestStream();
    await appendMany(stream.js, stream.subjects, 3000, (i) => mixedMessage(stream.chainId, i));
    memory = await startTestGateway(stream);
    // A window of 50 sequences: every resume below reads part of its range from the stream, asynchronously,
    // while the live feed moves on: the hard case for "no loss, no duplicate".
    fromStream = await startTestGateway(stream, {
      limits: { replayWindow: 50 },
      connectionsBucket: `gw2_${stream.name}`,
    });
  }, 60_000);
  afterAll(async () => {
    await memory?.stop();
    await fromStream?.stop();
    await stream.jsm.streams.delete(`KV_gw2_${stream.name}`).catch(() => {});
    await stream?.destroy();
  });

  it('every client gets exactly the frames after its cursor, in order, whichever path served it', async () => {
    let appending = true;
    let appended = 0;
    const appender = (async () => {
      // ~1000 messages/s, one at a time in order of i, until told to stop.
      while (appending) {
        const batch = Array.from({ length: 10 }, (_, k) => mixedMessage(stream.chainId, 5000 + appended + k));
        await Promise.all(batch.map((m) => append(stream.js, stream.subjects, m)));
        appended += batch.length;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const clients: { client: RawClient; cursor: number }[] = [];
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 40 + Math.random() * 40));
      const info = await stream.jsm.streams.info(stream.name);
      const cursor = info.state.last_seq - Math.floor(Math.random() * 900);
      const client = new RawClient(i % 2 ? memory.url : fromStream.url);
      await client.opened;
      client.send({ type: 'AUTH', token: await tokenFor(addressOf(0x1000 + i)) });
      client.send({ type: 'RECONNECT', lastSequenceId: cursor, epoch: stream.epoch });
      clients.push({ client, cursor });
    }
    await new Promise((r) => setTimeout(r, 300));
    appending = false;
    await appender;
    const head = (await stream.jsm.streams.info(stream.name)).state.last_seq;
    expect(appended).toBeGreaterThan(200);

    for (const { client, cursor } of clients) {
      await caughtUp(client, head);
      const replay = client.frames.find((f) => f.type === 'REPLAY');
      expect(replay?.type === 'REPLAY' && replay.fromSequenceId).toBe(cursor);
      expect(client.frames.some((f) => f.type === 'FULL_SYNC')).toBe(false);
      expect(received(client.frames)).toEqual(await expectedFrames(stream, cursor, head));
      client.close();
    }
    expect(memory.gateway.stats().replays + fromStream.gateway.stats().replays).toBe(30);
  }, 60_000);
});
