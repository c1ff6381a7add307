import { CloseCode, type ServerFrame } from '@ghostnet/client/protocol';
import { readRange } from '@ghostnet/stream';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, appendMany, mixedMessage } from '../test/envelopes.ts';
import { RawClient, startTestGateway, streamHeadSnapshots, tokenFor } from '../test/harness.ts';

/** The stream reads of resumes, slowed down and watched: how many run at once, and whether one outlives its socket. */
const reads = { active: 0, max: 0, yielded: 0, finished: 0, delayMs: 0 };
async function* watchedReadRange(...args: Parameters<typeof readRange>) {
  reads.active++;
  reads.max = Math.max(reads.max, reads.active);
  try {
    for await (const m of readRange(...args)) {
      if (reads.delayMs > 0) await new Promise((r) => setTimeout(r, reads.delayMs));
      reads.yielded++;
      yield m;
    }
  } finally {
    reads.active--;
    reads.finished++;
  }
}

async function resume(url: string, cursor: number | null, epoch?: string, who = addressOf(0xb0)) {
  const client = new RawClient(url);
  await client.opened;
  client.send({ type: 'AUTH', token: await tokenFor(who) });
  client.send({ type: 'RECONNECT', lastSequenceId: cursor, ...(epoch ? { epoch } : {}) });
  return client;
}

const types = (frames: readonly ServerFrame[]) => frames.map((f) => f.type);

describe('a resume never turns into an unbounded replay', () => {
  let stream: TestStream;
  let head: number;
  beforeAll(async () => {
    stream = await createTestStream();
    head = await appendMany(stream.js, stream.subjects, 2_500, (i) => mixedMessage(stream.chainId, i), 512);
  }, 60_000);
  afterAll(async () => {
    await stream?.destroy();
  });

  it('a snapshot further behind the stream than the replay window (a lagging projector) is retried, then TRY_AGAIN_LATER: no FULL_SYNC, no REPLAY', async () => {
    const lagging = streamHeadSnapshots(stream, 2_000);
    const gw = await startTestGateway(stream, {
      snapshots: lagging,
      connectionsBucket: `gwl_${stream.name}`,
      limits: { replayWindow: 1_000 },
    });
    try {
      const client = await resume(gw.url, null);
      const closed = await Promise.race([
        client.closed,
        client.next('REPLAY', 20_000).then(() => ({ code: 'served a REPLAY' })),
      ]);
      expect(closed.code).toBe(CloseCode.TRY_AGAIN_LATER);
      expect(types(client.frames)).toEqual(['CONNECTION_STATE', 'ERROR']);
      expect(client.frames[1]).toMatchObject({ type: 'ERROR', code: 'SNAPSHOT_UNAVAILABLE' });
      expect(lagging.reads).toBeGreaterThan(1);

      // Within the window, a gateway serves the FULL_SYNC and the REPLAY of the sequences in between, even
      // beyond the replay limit (1000) that sends a client's own cursor to a FULL_SYNC.
      const within = streamHeadSnapshots(stream, 1_500);
      const served = await startTestGateway(stream, {
        snapshots: within,
        connectionsBucket: `gwm_${stream.name}`,
        limits: { replayWindow: 2_000 },
      });
      try {
        const ok = await resume(served.url, null);
        expect(await ok.next('REPLAY', 20_000)).toMatchObject({
          fromSequenceId: head - 1_500,
          toSequenceId: head,
        });
        ok.close();
      } finally {
        await served.stop();
        await stream.jsm.streams.delete(`KV_gwm_${stream.name}`).catch(() => {});
      }
    } finally {
      await gw.stop();
      await stream.jsm.streams.delete(`KV_gwl_${stream.name}`).catch(() => {});
    }
  }, 60_000);

  describe('stream reads (a window of 100: a gap of 900 is read from the stream)', () => {
    let gw: Awaited<ReturnType<typeof startTestGateway>>;
    beforeAll(async () => {
      gw = await startTestGateway(stream, {
        limits: { replayWindow: 100, streamReads: 2 },
        readRange: watchedReadRange,
        connectionsBucket: `gwr_${stream.name}`,
      });
    });
    afterAll(async () => {
      await gw?.stop();
      await stream.jsm.streams.delete(`KV_gwr_${stream.name}`).catch(() => {});
    });

    it('stop as soon as the socket is gone', async () => {
      Object.assign(reads, { active: 0, max: 0, yielded: 0, finished: 0, delayMs: 2 });
      const client = await resume(gw.url, head - 900, stream.epoch);
      while (reads.yielded < 50) await new Promise((r) => setTimeout(r, 5));
      client.close();
      await client.closed;
      const atClose = reads.yielded;
      const deadline = Date.now() + 5_000;
      while (reads.finished < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(reads.finished).toBe(1);
      // 800 sequences to read at 2 ms each: a read that went on would still be far from done.
      expect(reads.yielded - atClose).toBeLessThan(20);
    });

    it('run at most `streamReads` at once; the others wait their turn and are served', async () => {
      Object.assign(reads, { active: 0, max: 0, yielded: 0, finished: 0, delayMs: 0.5 });
      const clients = await Promise.all(
        Array.from({ length: 6 }, (_, i) => resume(gw.url, head - 900, stream.epoch, addressOf(0xc0 + i))),
      );
      for (const client of clients) {
        expect(await client.next('REPLAY', 30_000)).toMatchObject({
          fromSequenceId: head - 900,
          toSequenceId: head,
        });
        client.close();
      }
      expect(reads.finished).toBe(6);
      expect(reads.max).toBe(2);
    }, 60_000);
  });
});
