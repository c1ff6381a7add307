import { createTestStream, type TestStream } from '@ghostnet/test';
import type { JetStreamClient } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadRangeStalled, readRange } from './readRange.ts';

/** A consumer that delivers `delivered`, then lets every pull expire empty with `pending` still reported. */
function stallingJs(delivered: number[], pending: number) {
  let pulls = 0;
  const consumer = {
    // Before the first pull the delivered messages are pending too; after it, only `pending`.
    info: async () => ({ num_pending: pulls === 0 ? delivered.length + pending : pending }),
    delete: async () => true,
    fetch: async () => {
      const batch = pulls++ === 0 ? delivered : [];
      return (async function* () {
        // A message's own pending count may be stale: it never says the stream ends here.
        for (const seq of batch) yield { seq, subject: 's', data: new Uint8Array(), info: { pending: 1 } };
      })();
    },
  };
  return {
    js: { consumers: { get: async () => consumer } } as unknown as JetStreamClient,
    pulls: () => pulls,
  };
}

describe('readRange', () => {
  let stream: TestStream;
  beforeAll(async () => {
    stream = await createTestStream();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stream.js.publish(stream.subjects.derived(i % 2 ? 'Odd' : 'Even'), `m${i + 1}`),
      ),
    );
  });
  afterAll(() => stream.destroy());

  async function read(from: number, to: number, batch?: number) {
    const out: string[] = [];
    for await (const m of readRange(stream.js, stream.name, from, to, { batch })) {
      out.push(`${m.seq}:${new TextDecoder().decode(m.data)}`);
    }
    return out;
  }

  it('reads exactly [from, to] in order, across pull batches', async () => {
    const got = await read(10, 27, 4);
    expect(got).toEqual(Array.from({ length: 18 }, (_, i) => `${i + 10}:m${i + 10}`));
  });

  it('stops at the end of the stream without waiting for more', async () => {
    // A read that waited for more would take the pull's whole expiry (1 s); each read stops before it.
    let started = Date.now();
    expect(await read(48, 1000)).toEqual(['48:m48', '49:m49', '50:m50']);
    expect(Date.now() - started).toBeLessThan(950);
    started = Date.now();
    expect(await read(60, 70)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(950);
    expect(await read(5, 4)).toEqual([]);
  });

  it('leaves no consumer behind', async () => {
    await read(1, 50);
    const consumers = [];
    for await (const c of stream.jsm.consumers.list(stream.name)) consumers.push(c.name);
    expect(consumers).toEqual([]);
  });

  it('a pull that keeps expiring empty while messages remain is an error, never the end of the range', async () => {
    const stalled = stallingJs([1, 2], 5);
    const seen: number[] = [];
    const reading = (async () => {
      for await (const m of readRange(stalled.js, 'S', 1, 10, { maxEmptyPulls: 2 })) seen.push(m.seq);
    })();
    await expect(reading).rejects.toBeInstanceOf(ReadRangeStalled);
    expect(seen).toEqual([1, 2]);
    expect(stalled.pulls()).toBe(3);

    // Empty with nothing pending is the stream's end: no error.
    const ended = stallingJs([1, 2], 0);
    const all: number[] = [];
    for await (const m of readRange(ended.js, 'S', 1, 10)) all.push(m.seq);
    expect(all).toEqual([1, 2]);
  });
});
