import { Writable } from 'node:stream';
import { parseStreamMessage } from '@ghostnet/events';
import { createLogger } from '@ghostnet/logger';
import {
  type Anvil,
  canonicalChainEvents,
  createTestStream,
  deployLogEmitters,
  type EmitterChain,
  ingestTarget,
  readStream,
  startAnvil,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createIngester, type Ingester } from './ingester.ts';

const logger = createLogger({ name: 'ingester-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let anvil: Anvil;
let chain: EmitterChain;
beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployLogEmitters(anvil.rpcUrl);
});
afterAll(async () => {
  await anvil?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
// Last registered, first run: an ingester stops before the stream and the chain it reads go away.
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function ingest(
  stream: TestStream,
  extra: Partial<Parameters<typeof createIngester>[0]> = {},
): Promise<Ingester> {
  const ingester = createIngester({
    rpcUrl: anvil.rpcUrl,
    wsUrl: anvil.wsUrl,
    ...ingestTarget(chain, stream),
    logger,
    ...extra,
  });
  await ingester.start();
  cleanups.push(() => ingester.stop());
  return ingester;
}

async function expectStreamEqualsChain(stream: TestStream, on = { chain, anvil }) {
  const expected = (await on.chain.logs()).map((l) => `${on.anvil.chainId}:${l.blockHash}:${l.logIndex}`);
  let ids: string[] = [];
  await waitFor(
    'stream to hold exactly the chain logs',
    async () => {
      ids = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name)).map(
        (e) => e.message.id,
      );
      return ids.length === expected.length && ids.every((id, i) => id === expected[i]);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  ).catch(() => {});
  expect(ids).toEqual(expected);
}

describe('ingester', () => {
  it("logs one 'event indexed' line per appended event at debug level, with its sequence", async () => {
    await chain.burstBlock(3, 40, 1);
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    await ingest(stream, { logger: createLogger({ name: 'indexed', level: 'debug', destination }) });
    await expectStreamEqualsChain(stream);
    const stored = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name));
    await waitFor('a line per event', () =>
      Promise.resolve(lines.filter((l) => l.msg === 'event indexed').length >= stored.length),
    );
    const indexed = lines.filter((l) => l.msg === 'event indexed');
    expect(indexed.map((l) => [l.sequence, l.eventType, l.blockNumber, l.logIndex])).toEqual(
      stored.map((s) =>
        s.message.kind === 'chain'
          ? [s.seq, s.message.name, s.message.block.number, s.message.logIndex]
          : [s.seq, null, null, null],
      ),
    );
    expect(indexed.every((l) => typeof l.latencyMs === 'number' && typeof l.txHash === 'string')).toBe(true);
  });

  it('backfills a history, then follows live blocks: every log once, in chain order', async () => {
    for (let i = 0; i < 5; i++) await chain.burstBlock(4, 25, i);
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const ingester = await ingest(stream);
    await expectStreamEqualsChain(stream);
    for (let i = 0; i < 5; i++) await chain.burst(10, 100 + i);
    await chain.submitDeaths(2, ['0x00000000000000000000000000000000000000aa']);
    await expectStreamEqualsChain(stream);
    const stored = await readStream(stream.js, stream.jsm, stream.name);
    const death = stored.find((s) => s.message.kind === 'chain' && s.message.name === 'DeathsSubmitted');
    expect(death?.message).toMatchObject({
      enrichment: {
        victims: [
          { address: '0x00000000000000000000000000000000000000aa', amountLost: '1000000000000000000' },
        ],
      },
    });
    // Lag counts from the newest head seen, which may be a block ahead for a moment after the last append.
    await waitFor('caught up', async () => ingester.stats().lagBlocks === 0, { timeoutMs: 10_000 });
    expect(ingester.stats()).toMatchObject({ state: 'live', lagBlocks: 0 });
  });

  it('messages of the API and the projector between its appends cost a resync, not a conflict', async () => {
    await chain.burstBlock(2, 10, 0);
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const ingester = await ingest(stream);
    await expectStreamEqualsChain(stream);
    for (let i = 0; i < 4; i++) {
      const id = `${anvil.chainId}:app:interleaved-${i}-${Date.now()}`;
      const crewEvent = {
        v: 1,
        kind: 'app',
        id,
        chainId: anvil.chainId,
        name: 'CrewEvent',
        occurredAt: Date.now(),
        observedAt: Date.now(),
        args: {
          crewId: 'c1',
          crewName: 'Ghosts',
          eventType: 'JOINED',
          address: `0x${'0c'.repeat(20)}`,
          message: 'm',
        },
      };
      await stream.js.publish(stream.subjects.app('CrewEvent'), JSON.stringify(crewEvent), { msgID: id });
      await chain.burst(5, 300 + i);
      await expectStreamEqualsChain(stream);
    }
    expect(ingester.stats().conflicts).toBe(0);
    expect(ingester.stats().interleaved).toBeGreaterThanOrEqual(4);
  });
});

async function rpc(method: string, params: unknown[], url = anvil.rpcUrl) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

describe('stream configuration', () => {
  it('reports drift between infra/nats/stream.json and the live stream without changing the stream', async () => {
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const info = await stream.jsm.streams.info(stream.name);
    await stream.jsm.streams.update(stream.name, { ...info.config, duplicate_window: 5_000_000_000 });
    const ingester = await ingest(stream);
    expect(ingester.stats().streamDrift).toEqual([
      { field: 'duplicate_window', expected: 120_000_000_000, actual: 5_000_000_000 },
    ]);
    expect((await stream.jsm.streams.info(stream.name)).config.duplicate_window).toBe(5_000_000_000);
    await chain.burst(3, 6000);
    await expectStreamEqualsChain(stream);
    expect(ingester.stats().eventsPerSecond).toBeGreaterThan(0);
  });
});

describe('ingester with two writers', () => {
  it('two ingesters started together still append every log once, in order', async () => {
    for (let i = 0; i < 4; i++) await chain.burstBlock(5, 40, 300 + i);
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const other = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => other.destroy());
    // Same stream, two connections, two ingesters racing from the first block.
    const [a, b] = await Promise.all([ingest(stream), ingest({ ...stream, nc: other.nc })]);
    for (let i = 0; i < 10; i++) await chain.burst(15, 400 + i);
    await expectStreamEqualsChain(stream);
    const raw = await readStream(stream.js, stream.jsm, stream.name);
    expect(raw.every((s) => s.message.kind === 'chain')).toBe(true);
    expect(new Set(raw.map((s) => s.message.id)).size).toBe(raw.length);
    expect(a.stats().eventsAppended + b.stats().eventsAppended).toBe(raw.length);
  });
});

describe('ingester on reorgs', () => {
  it('names exactly the orphaned events for reorgs of depth 1..10, then appends the canonical ones', async () => {
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const ingester = await ingest(stream);
    await expectStreamEqualsChain(stream);
    const sender = (await rpc('eth_accounts', [])) as string[];

    for (let depth = 1; depth <= 10; depth++) {
      for (let i = 0; i < depth; i++) await chain.burst(3, 1000 * depth + i);
      await expectStreamEqualsChain(stream);
      const before = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name));

      // Replace the last `depth` blocks; the new chain has one burst of different events in its first block.
      const { encodeFunctionData } = await import('viem');
      const { logEmitterAbi } = await import('@ghostnet/test');
      const tx = {
        from: sender[0],
        to: chain.ghostCore,
        data: encodeFunctionData({
          abi: logEmitterAbi,
          functionName: 'burst',
          args: [2n, BigInt(99_000 + depth)],
        }),
        gas: '0x1e8480',
      };
      await rpc('anvil_reorg', [depth, [[tx, 0]]]);
      await chain.mine(1);

      const chainNow = new Set(
        (await chain.logs()).map((l) => `${anvil.chainId}:${l.blockHash}:${l.logIndex}`),
      );
      const expectedOrphans = before.filter((s) => !chainNow.has(s.message.id)).map((s) => s.seq);
      expect(expectedOrphans.length).toBeGreaterThan(0);
      await expectStreamEqualsChain(stream);
      const notices = (await readStream(stream.js, stream.jsm, stream.name)).filter(
        (s) => s.message.kind === 'reorg',
      );
      const last = notices[notices.length - 1]!.message;
      expect(last.kind === 'reorg' && last.orphanedSequences).toEqual(expectedOrphans);
    }
    expect(ingester.stats().reorgs).toBe(10);
  });

  it('START_BLOCK 0 and a reorg that orphans every published event: the notice names block 0, a real block', async () => {
    // A chain of its own: the reorg must drop every block with events since block 0.
    const own = await startAnvil();
    cleanups.push(() => own.stop());
    const ownChain = await deployLogEmitters(own.rpcUrl);
    const on = { chain: ownChain, anvil: own };
    const stream = await createTestStream({ chainId: own.chainId });
    cleanups.push(() => stream.destroy());
    const ingester = await ingest(stream, {
      rpcUrl: own.rpcUrl,
      wsUrl: own.wsUrl,
      ...ingestTarget(ownChain, stream),
      startBlock: 0,
    });
    await ownChain.burst(3, 1);
    await ownChain.burst(2, 2);
    await expectStreamEqualsChain(stream, on);
    const published = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name));
    const firstEventBlock = Math.min(...(await ownChain.logs()).map((l) => l.blockNumber));
    const head = Number(await rpc('eth_blockNumber', [], own.rpcUrl));

    const { encodeFunctionData } = await import('viem');
    const { logEmitterAbi } = await import('@ghostnet/test');
    const sender = (await rpc('eth_accounts', [], own.rpcUrl)) as string[];
    const tx = {
      from: sender[0],
      to: ownChain.ghostCore,
      data: encodeFunctionData({ abi: logEmitterAbi, functionName: 'burst', args: [2n, 77_000n] }),
      gas: '0x1e8480',
    };
    await rpc('anvil_reorg', [head - firstEventBlock + 1, [[tx, 0]]], own.rpcUrl);
    await ownChain.mine(1);
    await expectStreamEqualsChain(stream, on);

    const stored = await readStream(stream.js, stream.jsm, stream.name);
    const notices = stored.filter((s) => s.message.kind === 'reorg');
    expect(notices).toHaveLength(1);
    const genesis = (await rpc('eth_getBlockByNumber', ['0x0', false], own.rpcUrl)) as { hash: string };
    expect(notices[0]!.message).toMatchObject({
      commonAncestor: { number: 0, hash: genesis.hash },
      orphanedSequences: published.map((p) => p.seq),
    });
    // Every message reads back as every consumer reads it (a resync and the projector parse each one).
    for (const { seq } of stored) {
      const raw = await stream.jsm.streams.getMessage(stream.name, { seq });
      expect(() => parseStreamMessage(raw!.data), `sequence ${seq}`).not.toThrow();
    }
    expect(ingester.stats().reorgs).toBe(1);
    // A restart resyncs through the notice.
    await ingester.stop();
    const restarted = await ingest(stream, {
      rpcUrl: own.rpcUrl,
      ...ingestTarget(ownChain, stream),
      startBlock: 0,
    });
    await ownChain.burst(1, 3);
    await expectStreamEqualsChain(stream, on);
    // Read the notice as an earlier one: nothing new orphaned.
    expect(restarted.stats().reorgs).toBe(0);
  });

  it('stops with a clear error on a reorg deeper than the maximum', async () => {
    const stream = await createTestStream({ chainId: anvil.chainId });
    cleanups.push(() => stream.destroy());
    const ingester = await ingest(stream, { maxReorgDepth: 3 });
    for (let i = 0; i < 6; i++) await chain.burst(2, 5000 + i);
    await expectStreamEqualsChain(stream);
    await rpc('anvil_reorg', [6, []]);
    await chain.mine(1);
    await expect(ingester.done).rejects.toThrow(/reorg deeper than 3 blocks|exceeds the maximum of 3/);
    expect(ingester.stats().state).toBe('failed');
  });
});
