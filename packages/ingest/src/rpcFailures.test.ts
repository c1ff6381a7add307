import { createServer, type Server, type ServerResponse } from 'node:http';
import { createLogger } from '@ghostnet/logger';
import {
  type Anvil,
  canonicalChainEvents,
  createTestStream,
  deployLogEmitters,
  type EmitterChain,
  ingestTarget,
  listenLocal,
  readStream,
  startAnvil,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngester } from './ingester.ts';

/** Passes a JSON-RPC request body on to `target` and its answer back, as an honest proxy would. */
async function relay(target: string, body: string, res: ServerResponse): Promise<void> {
  const upstream = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
}

/**
 * A JSON-RPC proxy in front of anvil that, while `chaos` is on, answers a share of requests with each kind of
 * failure a real provider produces: 500s, 429s, hangs, non-JSON bodies, JSON-RPC errors, "range too large",
 * and well-formed answers with corrupted content.
 */
function startFlakyProxy(target: string) {
  const state = { chaos: true, failures: {} as Record<string, number> };
  const count = (kind: string) => {
    state.failures[kind] = (state.failures[kind] ?? 0) + 1;
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const request = JSON.parse(body);
    const first = Array.isArray(request) ? request[0] : request;
    const roll = Math.random();
    if (state.chaos) {
      if (roll < 0.1) {
        count('http500');
        res.writeHead(500).end('upstream exploded');
        return;
      }
      if (roll < 0.15) {
        count('http429');
        res.writeHead(429).end();
        return;
      }
      if (roll < 0.2) {
        count('hang');
        setTimeout(() => res.destroy(), 1_500);
        return;
      }
      if (roll < 0.25) {
        count('notJson');
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
        return;
      }
      if (roll < 0.3) {
        count('rpcError');
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: first.id,
            error: { code: -32000, message: 'header not found' },
          }),
        );
        return;
      }
      if (first.method === 'eth_getLogs' && first.params[0].fromBlock && roll < 0.5) {
        const span =
          Number.parseInt(first.params[0].toBlock, 16) - Number.parseInt(first.params[0].fromBlock, 16);
        if (span > 3) {
          count('rangeTooLarge');
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: first.id,
              error: { code: -32005, message: 'query exceeds max block range 3' },
            }),
          );
          return;
        }
      }
    }
    const upstream = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    let text = await upstream.text();
    if (state.chaos && first.method === 'eth_getLogs' && roll > 0.9) {
      // Well-formed but wrong: a log whose data is cut short, or whose block hash belongs to no block.
      const parsed = JSON.parse(text);
      if (Array.isArray(parsed.result) && parsed.result.length > 0) {
        const victim = parsed.result[Math.floor(Math.random() * parsed.result.length)];
        if (roll > 0.95) victim.data = victim.data.slice(0, -64);
        else victim.blockHash = `0x${'ee'.repeat(32)}`;
        count('corrupted');
        text = JSON.stringify(parsed);
      }
    }
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
  });
  return listenLocal(server).then((listening) => ({ ...listening, state }));
}

let anvil: Anvil;
let chain: EmitterChain;
let stream: TestStream;
beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployLogEmitters(anvil.rpcUrl);
  stream = await createTestStream({ chainId: anvil.chainId });
});
afterAll(async () => {
  await stream?.destroy();
  await anvil?.stop();
});

describe('ingester behind a failing RPC', () => {
  it('is delayed, never corrupted, by failures, timeouts, garbage and range errors', async () => {
    for (let i = 0; i < 6; i++) await chain.burstBlock(3, 30, 700 + i);
    const proxy = await startFlakyProxy(anvil.rpcUrl);
    const ingester = createIngester({
      rpcUrl: proxy.url,
      ...ingestTarget(chain, stream),
      rpcTimeoutMs: 500,
      pollIntervalMs: 100,
      logger: createLogger({ name: 'flaky', level: 'silent' }),
    });
    await ingester.start();
    try {
      // Keep traffic flowing until every kind of failure has hit the ingester a few times (bounded).
      const kinds = ['http500', 'http429', 'hang', 'notJson', 'rpcError', 'rangeTooLarge', 'corrupted'];
      const deadline = Date.now() + 60_000;
      for (let i = 0; Date.now() < deadline; i++) {
        if (kinds.every((k) => (proxy.state.failures[k] ?? 0) >= 2)) break;
        await chain.burst(5, 800 + i);
        if (i % 10 === 0) await chain.burstBlock(2, 5, 900 + i);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Every message appended while the proxy misbehaved must already be right.
      const during = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name)).map(
        (s) => s.message.id,
      );
      const expected = (await chain.logs()).map((l) => `${anvil.chainId}:${l.blockHash}:${l.logIndex}`);
      expect(during).toEqual(expected.slice(0, during.length));
      proxy.state.chaos = false;

      let ids: string[] = [];
      await waitFor('stream to catch up', async () => {
        ids = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name)).map(
          (s) => s.message.id,
        );
        return ids.length === expected.length;
      }).catch(() => {});
      expect(ids).toEqual(expected);
      const raw = await readStream(stream.js, stream.jsm, stream.name);
      expect(raw.every((s) => s.message.kind === 'chain')).toBe(true);
      const failures = proxy.state.failures;
      console.log(
        'injected failures:',
        JSON.stringify(failures),
        'rpc errors seen:',
        ingester.stats().rpcErrors,
      );
      for (const kind of kinds) expect(failures[kind] ?? 0, kind).toBeGreaterThan(0);
    } finally {
      await ingester.stop();
      await proxy.close();
    }
  }, 120_000);

  it('while every step fails, lag keeps growing and the state is retrying, not live (the alerts see it)', async () => {
    // 'steps': everything but the head fails (the head is read before the failing step); 'all': the head too.
    let failing: 'no' | 'steps' | 'all' = 'no';
    const server: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString();
      const parsed = JSON.parse(body);
      const methods: string[] = (Array.isArray(parsed) ? parsed : [parsed]).map((r) => r.method);
      const headOnly = methods.every((m) => m === 'eth_blockNumber' || m === 'eth_chainId');
      if (failing === 'all' || (failing === 'steps' && !headOnly)) {
        res.writeHead(503).end('upstream unavailable');
        return;
      }
      await relay(anvil.rpcUrl, body, res);
    });
    const proxy = await listenLocal(server);
    const own = await createTestStream({ chainId: anvil.chainId });
    const headNow = async () => {
      const response = await fetch(anvil.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }),
      });
      return Number(((await response.json()) as { result: string }).result);
    };
    // Only what this test mines: the earlier test's history is not needed here.
    const startBlock = (await headNow()) + 1;
    const ingester = createIngester({
      rpcUrl: proxy.url,
      ...ingestTarget(chain, own),
      startBlock,
      pollIntervalMs: 100,
      rpcTimeoutMs: 500,
      logger: createLogger({ name: 'stuck-rpc', level: 'silent' }),
    });
    const streamIds = async () =>
      canonicalChainEvents(await readStream(own.js, own.jsm, own.name)).map((s) => s.message.id);
    const chainIds = async () =>
      (await chain.logs())
        .filter((l) => l.blockNumber >= startBlock)
        .map((l) => `${anvil.chainId}:${l.blockHash}:${l.logIndex}`);
    try {
      await ingester.start();
      await chain.burst(3, 7000);
      const first = await chainIds();
      await waitFor('caught up and live', async () => {
        const stats = ingester.stats();
        return stats.state === 'live' && stats.lagBlocks === 0 && (await streamIds()).length === first.length;
      });
      const appendedThrough = ingester.stats().lastBlock!;

      failing = 'steps';
      for (let i = 0; i < 4; i++) await chain.burst(2, 7100 + i);
      await chain.mine(8);
      const head = await headNow();
      await waitFor('the lag to reach the head while nothing can be appended', async () => {
        const stats = ingester.stats();
        return stats.lagBlocks === head - appendedThrough && stats.state === 'retrying';
      }).catch(() => {});
      expect(ingester.stats()).toMatchObject({
        state: 'retrying',
        chainHead: head,
        lastBlock: appendedThrough,
        lagBlocks: head - appendedThrough,
      });
      expect(ingester.stats().lagSeconds).toBeGreaterThanOrEqual(0);

      // The head cannot be read either: the lag stands at what was last seen, errors keep growing, no block is
      // appended (IngesterStuck reads errors against ghostnet_ingester_last_block) and the state stays retrying.
      failing = 'all';
      const errorsBefore = ingester.stats().rpcErrors;
      await waitFor('errors to keep growing', async () => ingester.stats().rpcErrors >= errorsBefore + 2);
      expect(ingester.stats()).toMatchObject({
        state: 'retrying',
        lastBlock: appendedThrough,
        lagBlocks: head - appendedThrough,
      });

      failing = 'no';
      const expected = await chainIds();
      await waitFor('caught up again', async () => {
        const stats = ingester.stats();
        return (
          stats.state === 'live' && stats.lagBlocks === 0 && (await streamIds()).length === expected.length
        );
      }).catch(() => {});
      expect(await streamIds()).toEqual(expected);
      expect(ingester.stats()).toMatchObject({ state: 'live', lagBlocks: 0, lagSeconds: 0 });
    } finally {
      await ingester.stop();
      await proxy.close();
      await own.destroy();
    }
  }, 120_000);

  it('waits at start for an RPC that keeps failing eth_chainId longer than one call retries, then ingests', async () => {
    // 8 answers of 500 in a row: 4 attempts per call would have failed the start twice over.
    let refused = 0;
    const server: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString();
      if (JSON.parse(body).method === 'eth_chainId' && refused < 8) {
        refused++;
        res.writeHead(500).end('node restarting');
        return;
      }
      await relay(anvil.rpcUrl, body, res);
    });
    const proxy = await listenLocal(server);
    const own = await createTestStream({ chainId: anvil.chainId });
    const ingester = createIngester({
      rpcUrl: proxy.url,
      ...ingestTarget(chain, own),
      pollIntervalMs: 100,
      logger: createLogger({ name: 'restarting-rpc', level: 'silent' }),
    });
    try {
      await ingester.start();
      expect(refused).toBe(8);
      const expected = (await chain.logs()).map((l) => `${anvil.chainId}:${l.blockHash}:${l.logIndex}`);
      let ids: string[] = [];
      await waitFor('the stream to hold the chain', async () => {
        ids = canonicalChainEvents(await readStream(own.js, own.jsm, own.name)).map((s) => s.message.id);
        return ids.length === expected.length;
      }).catch(() => {});
      expect(ids).toEqual(expected);
    } finally {
      await ingester.stop();
      await proxy.close();
      await own.destroy();
    }
  }, 120_000);
});
