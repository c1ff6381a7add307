import type { ServerFrame } from '@ghostnet/client/protocol';
import { CloseCode } from '@ghostnet/client/protocol';
import { ReadRangeStalled, readRange } from '@ghostnet/stream';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, appendMany, mixedMessage } from '../test/envelopes.ts';
import { RawClient, startTestGateway, tokenFor } from '../test/harness.ts';

// The stream read a resume needs stalls (pulls expire empty while messages remain): readRange throws, as it
// does then, after yielding part of the range.
const stall = { on: false };
async function* stallingReadRange(...args: Parameters<typeof readRange>) {
  let n = 0;
  for await (const m of readRange(...args)) {
    if (stall.on && ++n > 10) throw new ReadRangeStalled('no message delivered (test)');
    yield m;
  }
}

describe('a resume whose stream read stalls', () => {
  let stream: TestStream;
  let head: number;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  beforeAll(async () => {
    stream = await createTestStream();
    head = await appendMany(stream.js, stream.subjects, 600, (i) => mixedMessage(stream.chainId, i), 200);
    // A window of 100 sequences: a gap of 400 is read from the stream.
    gw = await startTestGateway(stream, {
      limits: { replayWindow: 100 },
      readRange: stallingReadRange,
      connectionsBucket: `gws_${stream.name}`,
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await stream.jsm.streams.delete(`KV_gws_${stream.name}`).catch(() => {});
    await stream?.destroy();
  });

  it('gets SNAPSHOT_UNAVAILABLE and TRY_AGAIN_LATER, never a REPLAY with a hole; the next try replays it all', async () => {
    stall.on = true;
    const client = new RawClient(gw.url);
    await client.opened;
    client.send({ type: 'AUTH', token: await tokenFor(addressOf(0x51)) });
    client.send({ type: 'RECONNECT', lastSequenceId: head - 400, epoch: stream.epoch });
    expect((await client.closed).code).toBe(CloseCode.TRY_AGAIN_LATER);
    expect(client.frames.some((f: ServerFrame) => f.type === 'REPLAY')).toBe(false);
    expect(client.frames).toContainEqual(
      expect.objectContaining({ type: 'ERROR', code: 'SNAPSHOT_UNAVAILABLE' }),
    );

    stall.on = false;
    const again = new RawClient(gw.url);
    await again.opened;
    again.send({ type: 'AUTH', token: await tokenFor(addressOf(0x51)) });
    again.send({ type: 'RECONNECT', lastSequenceId: head - 400, epoch: stream.epoch });
    const replay = await again.next('REPLAY', 20_000);
    expect(replay).toMatchObject({ fromSequenceId: head - 400, toSequenceId: head });
    again.close();
  });
});
