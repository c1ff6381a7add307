import {
  createLogDecoder,
  ghostCoreEventsAbi,
  MalformedMessageError,
  parseStreamMessage,
  type ReorgNotice,
  type StreamMessage,
} from '@ghostnet/events';
import { createTestStream, encodeTestLog, readStream, type TestStream } from '@ghostnet/test';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendConflict, Appender } from './appender.ts';

const GHOST_CORE = `0x${'01'.repeat(20)}`;
const decode = createLogDecoder({
  chainId: 31337,
  addresses: { GhostCore: GHOST_CORE, TraceScan: `0x${'02'.repeat(20)}` },
});
const jackedIn = ghostCoreEventsAbi.find((e) => e.name === 'JackedIn')!;

function envelopes(fromBlock: number, count: number): StreamMessage[] {
  return Array.from({ length: count }, (_, i) =>
    decode(
      encodeTestLog(
        jackedIn,
        GHOST_CORE,
        {},
        {
          blockNumber: BigInt(fromBlock + i),
          blockHash: `0x${(fromBlock + i).toString(16).padStart(64, '0')}`,
        },
      ),
      { blockTimestampMs: 1_700_000_000_000, txFrom: `0x${'03'.repeat(20)}`, observedAt: 1 },
    ),
  );
}

const streams: TestStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) await s.destroy();
});

async function setup(maxInFlight?: number) {
  const stream = await createTestStream();
  streams.push(stream);
  const appender = new Appender(stream.js, stream.jsm, stream.name, stream.subjects, maxInFlight);
  await appender.sync();
  return { stream, appender };
}

describe('Appender', () => {
  it('appends pipelined batches in call order through a window smaller than a batch', async () => {
    const { stream, appender } = await setup(8);
    const batches = [envelopes(1, 50), envelopes(51, 3), envelopes(54, 40)];
    const results = await Promise.all(batches.map((b) => appender.append(b)));
    expect(results.map((r) => r.sequences)).toEqual([
      Array.from({ length: 50 }, (_, i) => i + 1),
      [51, 52, 53],
      Array.from({ length: 40 }, (_, i) => i + 54),
    ]);
    expect(appender.lastSequence).toBe(93);
    expect(appender.chainEventsAppended).toBe(93);
    const stored = await readStream(stream.js, stream.jsm, stream.name);
    expect(stored.map((s) => s.message.id)).toEqual(batches.flat().map((m) => m.id));
  });

  it('stops at a foreign message: what landed is a prefix, every append fails until sync', async () => {
    const { stream, appender } = await setup();
    await appender.append(envelopes(1, 5));
    // Another writer appends in between.
    const foreign = envelopes(1000, 1)[0]!;
    await stream.js.publish(stream.subjects.of(foreign), JSON.stringify(foreign), { msgID: foreign.id });
    await expect(appender.append(envelopes(6, 20))).rejects.toBeInstanceOf(AppendConflict);
    await expect(appender.append(envelopes(26, 1))).rejects.toBeInstanceOf(AppendConflict);
    expect(await appender.sync()).toBe(6);
    expect((await appender.append(envelopes(6, 2))).sequences).toEqual([7, 8]);
    const stored = await readStream(stream.js, stream.jsm, stream.name);
    expect(stored.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('refuses a message already in the stream (duplicate id) instead of counting it', async () => {
    const { appender } = await setup();
    const batch = envelopes(1, 3);
    await appender.append(batch);
    await appender.sync();
    await expect(appender.append([batch[2]!])).rejects.toThrow(/already in the stream|wrong last/);
  });

  it('refuses a message the stream schema rejects: nothing of its batch lands, nor of the batches after it', async () => {
    const { stream, appender } = await setup();
    await appender.append(envelopes(1, 2));
    // What resync wrote when a reorg orphaned everything and START_BLOCK was 0: an ancestor at block -1.
    const notice: ReorgNotice = {
      v: 1,
      kind: 'reorg',
      id: `31337:reorg:0x${'0'.repeat(64)}:1`,
      chainId: 31337,
      commonAncestor: { number: -1, hash: `0x${'0'.repeat(64)}` },
      depth: 2,
      orphanedSequences: [1, 2],
      observedAt: 1,
    };
    const refused = appender.append([...envelopes(3, 2), notice]);
    // Queued behind it: must not land with the refused batch missing before it.
    const queued = appender.append(envelopes(5, 2));
    const error = await refused.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect((error as Error).message).toMatch(/message 3 of 3 \(id "31337:reorg:/);
    expect((error as Error).message).toMatch(/commonAncestor\.number/);
    await expect(queued).rejects.toThrow();
    // A value no schema knows at all is refused too.
    expect(await appender.sync()).toBe(2);
    await expect(
      appender.append([{ ...envelopes(3, 1)[0]!, kind: 'nonsense' } as unknown as StreamMessage]),
    ).rejects.toThrow(/unknown kind "nonsense"/);
    // After a sync the appender goes on; the stream holds only what every reader can parse.
    expect(await appender.sync()).toBe(2);
    expect((await appender.append(envelopes(3, 2))).sequences).toEqual([3, 4]);
    const stored = await readStream(stream.js, stream.jsm, stream.name);
    expect(stored.map((s) => s.seq)).toEqual([1, 2, 3, 4]);
    for (const s of stored) {
      const raw = await stream.jsm.streams.getMessage(stream.name, { seq: s.seq });
      expect(() => parseStreamMessage(raw!.data)).not.toThrow();
    }
  });

  it('a reorg that flips back (A, B, A): A appended again is not dropped as a duplicate, and a retry still is', async () => {
    const { stream, appender } = await setup();
    const notice = (orphaned: number[]): ReorgNotice => ({
      v: 1,
      kind: 'reorg',
      id: `31337:reorg:0x${'0'.repeat(63)}1:${orphaned[0]}`,
      chainId: 31337,
      commonAncestor: { number: 1, hash: `0x${'0'.repeat(63)}1` },
      depth: 2,
      orphanedSequences: orphaned,
      observedAt: 1,
    });
    const a = envelopes(2, 2);
    const b = envelopes(200, 2);
    expect((await appender.append(a)).sequences).toEqual([1, 2]);
    expect((await appender.append([notice([1, 2]), ...b])).sequences).toEqual([3, 4, 5]);
    // The chain went back to A within the duplicate window: the same envelope ids, appended again.
    expect((await appender.append([notice([4, 5]), ...a])).sequences).toEqual([6, 7, 8]);
    const stored = await readStream(stream.js, stream.jsm, stream.name);
    expect(stored.map((s) => s.message.id)).toEqual(
      [...a, notice([1, 2]), ...b, notice([4, 5]), ...a].map((m) => m.id),
    );
    // A restarted ingester takes the marks from the stream: its retry of the last message is still dropped.
    const restarted = new Appender(stream.js, stream.jsm, stream.name, stream.subjects);
    expect(await restarted.sync()).toBe(8);
    await expect(restarted.append([a[1]!])).rejects.toThrow(/already in the stream at 8/);
  });

  it('fails, without hanging, when no stream takes the subject', async () => {
    const stream = await createTestStream();
    streams.push(stream);
    const other = await createTestStream();
    streams.push(other);
    // Subjects of a stream that is then deleted: nobody answers the publish.
    const appender = new Appender(stream.js, stream.jsm, stream.name, other.subjects);
    await appender.sync();
    await other.jsm.streams.delete(other.name);
    await expect(appender.append(envelopes(1, 3), 2_000)).rejects.toThrow(/no responders|in time/);
  });
});
