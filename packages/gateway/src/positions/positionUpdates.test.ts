import { createTestStream, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, append, deathsSubmitted } from '../test/envelopes.ts';
import { RawClient, silentLogger, startTestGateway, streamHeadSnapshots, tokenFor } from '../test/harness.ts';
import { PositionUpdates } from './positionUpdates.ts';

const [A, B, C] = [addressOf(0xa1), addressOf(0xb2), addressOf(0xc3)] as [string, string, string];

describe('POSITION_UPDATE when a position read fails', () => {
  it('the other users of the batch and of later batches are still sent; the failed one is retried, keeping a newer request', async () => {
    let checkpoint = 10;
    let failedB = false;
    const published: [string, number][] = [];
    const updates: PositionUpdates = new PositionUpdates({
      source: {
        async positionsCheckpoint() {
          return { sequence: checkpoint, epoch: 'E' };
        },
        readPosition(address) {
          if (address === B && !failedB) {
            // Fails once, after a newer change of B was queued while the read was in flight.
            failedB = true;
            updates.enqueue([B], 20);
            return Promise.reject(new Error('connection reset'));
          }
          return Promise.resolve({ position: null, sequence: checkpoint, epoch: 'E' });
        },
      },
      localUsers: () => [A, B, C],
      isLocal: () => true,
      publish: (address, frame) => published.push([address, JSON.parse(frame).sequenceId]),
      isCurrentEpoch: (epoch) => epoch === 'E',
      tickMs: 60_000,
      concurrency: 1, // A, B and C in batches of their own: B's failure must not drop C
      logger: silentLogger,
    });
    updates.enqueue([A, B, C], 10);
    await updates.tick();
    expect(published).toEqual([
      [A, 10],
      [C, 10],
    ]);
    expect(updates.pending).toBe(1);
    await updates.tick(); // B's newest request (20) is not reflected by the checkpoint yet
    expect(published).toHaveLength(2);
    checkpoint = 20;
    await updates.tick();
    expect(published.at(-1)).toEqual([B, 20]);
    expect(updates.pending).toBe(0);
  });

  it('a read that keeps failing is dropped after 5 attempts, with one error, not retried every tick for good', async () => {
    const errors: unknown[] = [];
    let reads = 0;
    const updates = new PositionUpdates({
      source: {
        positionsCheckpoint: async () => ({ sequence: 10, epoch: 'E' }),
        readPosition: () => {
          reads++;
          return Promise.reject(new Error('row does not parse'));
        },
      },
      localUsers: () => [A],
      isLocal: () => true,
      publish: () => {},
      isCurrentEpoch: () => true,
      tickMs: 60_000,
      logger: Object.assign(Object.create(silentLogger) as typeof silentLogger, {
        error: (...args: unknown[]) => errors.push(args),
      }),
    });
    updates.enqueue([A], 10);
    for (let i = 0; i < 8; i++) await updates.tick();
    expect(reads).toBe(5);
    expect(updates.pending).toBe(0);
    expect(errors).toHaveLength(1);
  });

  it('an epoch the follower recognises as the same stream is accepted (the projector may report another alias)', async () => {
    const published: string[] = [];
    const updates = new PositionUpdates({
      source: {
        positionsCheckpoint: async () => ({ sequence: 5, epoch: 'old-alias' }),
        readPosition: async () => ({ position: null, sequence: 5, epoch: 'old-alias' }),
      },
      localUsers: () => [A],
      isLocal: () => true,
      publish: (address) => published.push(address),
      isCurrentEpoch: (epoch) => epoch === 'old-alias' || epoch === 'new-alias',
      tickMs: 60_000,
      logger: silentLogger,
    });
    updates.enqueue([A], 5);
    await updates.tick();
    expect(published).toEqual([A]);
  });

  describe('through the gateway', () => {
    let stream: TestStream;
    let gw: Awaited<ReturnType<typeof startTestGateway>>;
    const failOnce = new Set<string>();
    beforeAll(async () => {
      stream = await createTestStream();
      const base = streamHeadSnapshots(stream);
      gw = await startTestGateway(stream, {
        snapshots: {
          ...base,
          async readPosition(address) {
            if (failOnce.delete(address)) throw new Error('connection reset');
            return base.readPosition(address);
          },
        },
        positionTickMs: 20,
        connectionsBucket: `gwp_${stream.name}`,
      });
    });
    afterAll(async () => {
      await gw?.stop();
      await stream.jsm.streams.delete(`KV_gwp_${stream.name}`).catch(() => {});
      await stream?.destroy();
    });

    it('every user named by a message gets its POSITION_UPDATE, also the one whose read failed once', async () => {
      const clients = await Promise.all(
        [A, B, C].map(async (who) => {
          const client = new RawClient(gw.url);
          await client.opened;
          client.send({ type: 'AUTH', token: await tokenFor(who) });
          client.send({ type: 'RECONNECT', lastSequenceId: 0, epoch: stream.epoch });
          await client.next('REPLAY');
          await client.next('POSITION_UPDATE'); // the refresh after its resume
          return client;
        }),
      );
      failOnce.add(B);
      const seq = await append(stream.js, stream.subjects, deathsSubmitted(stream.chainId, [A, B, C]));
      for (const client of clients) {
        const deadline = Date.now() + 5_000;
        const updated = () => client.frames.some((f) => f.type === 'POSITION_UPDATE' && f.sequenceId >= seq);
        while (!updated() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(updated()).toBe(true);
        client.close();
      }
      expect(failOnce.size).toBe(0);
    });
  });
});
