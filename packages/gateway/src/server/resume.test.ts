import type { ServerFrame } from '@ghostnet/client/protocol';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, appendMany, mixedMessage } from '../test/envelopes.ts';
import {
  type ExpectedFrame,
  expectedFrames,
  RawClient,
  startTestGateway,
  tokenFor,
} from '../test/harness.ts';

/** The sequenced frames a raw client received, flattened (REPLAY contents, then live), as comparable keys. */
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

async function resume(url: string, cursor: number | null, epoch?: string) {
  const client = new RawClient(url);
  await client.opened;
  client.send({ type: 'AUTH', token: await tokenFor(addressOf(0xabc)) });
  client.send({ type: 'RECONNECT', lastSequenceId: cursor, ...(epoch ? { epoch } : {}) });
  const replay = await client.next('REPLAY', 20_000);
  return { client, replay, fullSync: client.frames.find((f) => f.type === 'FULL_SYNC') };
}

describe('resume paths (gap in stream sequences)', () => {
  let stream: TestStream;
  let head: number;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let smallWindow: Awaited<ReturnType<typeof startTestGateway>>;

  beforeAll(async () => {
    stream = await createTestStream();
    head = await appendMany(stream.js, stream.subjects, 51_000, (i) => mixedMessage(stream.chainId, i), 512);
    gw = await startTestGateway(stream);
    // Window of 100 sequences: a gap of 999 is then read from the stream, not from memory.
    smallWindow = await startTestGateway(stream, {
      limits: { replayWindow: 100 },
      connectionsBucket: `gw2_${stream.name}`,
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await smallWindow?.stop();
    await stream.jsm.streams.delete(`KV_gw2_${stream.name}`).catch(() => {});
    await stream?.destroy();
  });

  it.each([0, 1, 999])('gap %i → REPLAY with exactly the missed frames', async (gap) => {
    const { client, replay, fullSync } = await resume(gw.url, head - gap, stream.epoch);
    expect(fullSync).toBeUndefined();
    expect(replay.fromSequenceId).toBe(head - gap);
    expect(replay.toSequenceId).toBe(head);
    expect(replay.epoch).toBe(stream.epoch);
    const expected = await expectedFrames(stream, head - gap, head);
    if (gap === 999) expect(expected.length).toBeGreaterThan(999); // mixed messages: 0, 1, 2 or 3 frames each
    expect(received([replay])).toEqual(expected);
    client.close();
  });

  it('gap 999 beyond the in-memory window → REPLAY read from the stream, same frames', async () => {
    const { client, replay, fullSync } = await resume(smallWindow.url, head - 999, stream.epoch);
    expect(fullSync).toBeUndefined();
    expect(received([replay])).toEqual(await expectedFrames(stream, head - 999, head));
    client.close();
  });

  it.each([1000, 50_000])('gap %i → FULL_SYNC, then REPLAY from the snapshot sequence', async (gap) => {
    const { client, replay, fullSync } = await resume(gw.url, head - gap, stream.epoch);
    expect(fullSync?.type).toBe('FULL_SYNC');
    if (fullSync?.type !== 'FULL_SYNC') return;
    expect(fullSync.snapshot.sequence).toBe(head);
    expect(fullSync.snapshot.epoch).toBe(stream.epoch);
    expect(replay).toMatchObject({ fromSequenceId: head, toSequenceId: head, events: [] });
    expect(client.frames.indexOf(fullSync)).toBeLessThan(client.frames.indexOf(replay));
    client.close();
  });

  it('a cursor of another epoch (recreated stream), a cursor without epoch, no cursor, or a cursor past the stream → FULL_SYNC', async () => {
    for (const [cursor, epoch] of [
      [head - 5, '2020-01-01T00:00:00.000000000Z'],
      // Which incarnation it counts in is unknown: after a recreation its REPLAY would be other events.
      [head - 5, undefined],
      [null, undefined],
      [head + 10_000, stream.epoch],
    ] as const) {
      const { client, fullSync } = await resume(gw.url, cursor, epoch);
      expect(fullSync?.type, `cursor ${cursor} epoch ${epoch}`).toBe('FULL_SYNC');
      client.close();
    }
  });

  it('a snapshot behind the gateway is followed by a REPLAY of the sequences in between', async () => {
    const lagging = await startTestGateway(stream, {
      snapshots: (await import('../test/harness.ts')).streamHeadSnapshots(stream, 40),
      connectionsBucket: `gw3_${stream.name}`,
    });
    try {
      const { client, replay, fullSync } = await resume(lagging.url, null);
      expect(fullSync?.type).toBe('FULL_SYNC');
      expect(replay.fromSequenceId).toBe(head - 40);
      expect(received([replay])).toEqual(await expectedFrames(stream, head - 40, head));
      client.close();
    } finally {
      await lagging.stop();
      await stream.jsm.streams.delete(`KV_gw3_${stream.name}`).catch(() => {});
    }
  });
});
