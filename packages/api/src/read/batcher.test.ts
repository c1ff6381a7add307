import { describe, expect, it } from 'vitest';
import { Batcher, QueueFullError } from './batcher.ts';

const settled = () => new Promise((r) => setImmediate(r));

/** Polls (a loaded machine may run timers late): resolves once `check` holds, fails after 10 s. */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function gated<V>(answer: (key: string) => V) {
  const calls: string[][] = [];
  const gates: (() => void)[] = [];
  const fetch = async (keys: string[]) => {
    calls.push(keys);
    await new Promise<void>((resolve) => gates.push(resolve));
    return new Map(keys.map((k) => [k, answer(k)]));
  };
  return { calls, gates, fetch };
}

describe('Batcher', () => {
  it('sends a lookup alone when nothing is in flight, and batches what arrives meanwhile', async () => {
    const { calls, gates, fetch } = gated((k) => k.toUpperCase());
    const batcher = new Batcher(fetch, { maxInFlight: 4, maxBatch: 3, patienceMs: 60_000, maxQueued: 100 });
    const a = batcher.load('a');
    const rest = ['c', 'd', 'c', 'e', 'f'].map((k) => batcher.load(k));
    await settled();
    expect(calls).toEqual([['a']]);
    expect(batcher.state).toEqual({ inFlight: 1, queued: 5 });
    gates[0]!();
    expect(await a).toBe('A');
    await settled();
    // Up to maxBatch lookups per call (the same key twice is asked once); the rest waits for that call.
    expect(calls.slice(1)).toEqual([['c', 'd']]);
    gates[1]!();
    await settled();
    expect(calls.slice(2)).toEqual([['e', 'f']]);
    gates[2]!();
    expect(await Promise.all(rest)).toEqual(['C', 'D', 'C', 'E', 'F']);
    expect(batcher.state).toEqual({ inFlight: 0, queued: 0 });
  });

  it('does not let a slow call hold the others up longer than patienceMs, up to maxInFlight calls', async () => {
    const { calls, gates, fetch } = gated((k) => k);
    const batcher = new Batcher(fetch, { maxInFlight: 2, maxBatch: 10, patienceMs: 30, maxQueued: 100 });
    const start = performance.now();
    const slow = batcher.load('slow');
    const waiting = [batcher.load('x'), batcher.load('y')];
    await settled();
    expect(calls).toEqual([['slow']]);
    await eventually(() => calls.length === 2);
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
    expect(calls).toEqual([['slow'], ['x', 'y']]);
    const third = batcher.load('z');
    await new Promise((r) => setTimeout(r, 60));
    // Two calls in flight: the cap holds, z waits for one of them.
    expect(calls).toHaveLength(2);
    gates[1]!();
    expect(await Promise.all(waiting)).toEqual(['x', 'y']);
    await settled();
    expect(calls[2]).toEqual(['z']);
    gates[0]!();
    gates[2]!();
    expect([await slow, await third]).toEqual(['slow', 'z']);
  });

  it('fails a batch with its call, and a key the call did not answer; the next lookups still go out', async () => {
    let fail = true;
    const batcher = new Batcher<number>(
      async (keys) => {
        if (fail) throw new Error('connection lost');
        return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.length]));
      },
      { maxInFlight: 1, maxBatch: 10, patienceMs: 5, maxQueued: 100 },
    );
    await expect(batcher.load('x')).rejects.toThrow('connection lost');
    const throwing = new Batcher<number>(
      (() => {
        throw new Error('thrown before any promise');
      }) as never,
      { maxInFlight: 1, maxBatch: 10, patienceMs: 5, maxQueued: 100 },
    );
    await expect(throwing.load('y')).rejects.toThrow('thrown before any promise');
    expect(throwing.state).toEqual({ inFlight: 0, queued: 0 });
    fail = false;
    await expect(batcher.load('missing')).rejects.toThrow('no answer for missing');
    expect(await batcher.load('four')).toBe(4);
  });

  it('refuses lookups beyond maxQueued at once while the calls stall, and takes them again once they drain', async () => {
    const { calls, gates, fetch } = gated((k) => k);
    const batcher = new Batcher(fetch, { maxInFlight: 1, maxBatch: 2, patienceMs: 5, maxQueued: 3 });
    const first = batcher.load('a');
    const queued = ['b', 'c', 'd'].map((k) => batcher.load(k));
    await settled();
    expect(batcher.state).toEqual({ inFlight: 1, queued: 3 });
    await expect(batcher.load('e')).rejects.toBeInstanceOf(QueueFullError);
    expect(batcher.state).toEqual({ inFlight: 1, queued: 3 });
    gates[0]!();
    await eventually(() => calls.length === 2);
    // b and c went out: room for one more.
    const later = batcher.load('f');
    gates[1]!();
    await eventually(() => calls.length === 3);
    gates[2]!();
    expect(await Promise.all([first, ...queued, later])).toEqual(['a', 'b', 'c', 'd', 'f']);
    expect(calls).toEqual([['a'], ['b', 'c'], ['d', 'f']]);
  });
});
