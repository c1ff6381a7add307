import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRange } from './readRange.ts';

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
});
