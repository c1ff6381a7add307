import { createServer, type Server } from 'node:http';
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
import { createIngester, type Ingester } from '../ingester.ts';

const PAGE = 7;

interface RpcLogJson {
  blockNumber: string;
  logIndex: string;
}

/**
 * anvil behind a proxy that answers MegaETH's eth_getLogsWithCursor the way its documentation describes: the
 * filter of eth_getLogs plus an optional opaque cursor; at most PAGE logs per answer and a cursor while more
 * remain. It counts what it served, and can hand out a repeated cursor (a broken node) a few times.
 */
function startCursorProxy(target: string) {
  const state = { cursorCalls: 0, continued: 0, rangeGetLogs: 0, repeatCursors: 0, repeated: 0 };
  const upstream = async (body: unknown) =>
    (await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json())) as { id: unknown; result?: unknown; error?: unknown };
  const position = (log: RpcLogJson) => `${Number(log.blockNumber)}:${Number(log.logIndex)}`;
  const after = (log: RpcLogJson, cursor: string) => {
    const [block, index] = cursor.split(':').map(Number) as [number, number];
    return (
      Number(log.blockNumber) > block || (Number(log.blockNumber) === block && Number(log.logIndex) > index)
    );
  };

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const request = JSON.parse(Buffer.concat(chunks).toString());
    const answer = async (call: { id: unknown; method: string; params: unknown[] }) => {
      if (call.method === 'eth_getLogs' && (call.params[0] as { fromBlock?: string }).fromBlock)
        state.rangeGetLogs++;
      if (call.method !== 'eth_getLogsWithCursor') return upstream(call);
      state.cursorCalls++;
      const { cursor, ...filter } = call.params[0] as { cursor?: string };
      if (cursor) state.continued++;
      const all = await upstream({ jsonrpc: '2.0', id: call.id, method: 'eth_getLogs', params: [filter] });
      if (!Array.isArray(all.result)) return all;
      const rest = (all.result as RpcLogJson[]).filter((log) => !cursor || after(log, cursor));
      const logs = rest.slice(0, PAGE);
      let next = rest.length > PAGE ? position(logs[logs.length - 1]!) : undefined;
      if (next && cursor && state.repeated < state.repeatCursors) {
        state.repeated++;
        next = cursor;
      }
      return { jsonrpc: '2.0', id: call.id, result: next ? { logs, cursor: next } : { logs } };
    };
    const result = Array.isArray(request) ? await Promise.all(request.map(answer)) : await answer(request);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
  });
  return listenLocal(server).then((listening) => ({ ...listening, state }));
}

let anvil: Anvil;
let chain: EmitterChain;
const streams: TestStream[] = [];
beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployLogEmitters(anvil.rpcUrl);
  for (let i = 0; i < 8; i++) await chain.burstBlock(3, 10, 100 + i);
});
afterAll(async () => {
  for (const stream of streams) await stream.destroy();
  await anvil?.stop();
});

async function ingest(rpcUrl: string, logsWithCursor?: boolean) {
  const stream = await createTestStream({ chainId: anvil.chainId });
  streams.push(stream);
  const ingester = createIngester({
    rpcUrl,
    ...ingestTarget(chain, stream),
    pollIntervalMs: 100,
    logsWithCursor,
    // Wide ranges, so that the node has to page one range over several answers.
    range: { initial: 1_000, min: 1, max: 1_000, targetLogs: 10_000 },
    logger: createLogger({ name: 'cursor', level: 'silent' }),
  });
  await ingester.start();
  return { stream, ingester };
}

async function streamEqualsChain(stream: TestStream) {
  const expected = (await chain.logs()).map((l) => `${anvil.chainId}:${l.blockHash}:${l.logIndex}`);
  let ids: string[] = [];
  await waitFor('the stream to hold the chain', async () => {
    ids = canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name)).map((s) => s.message.id);
    return ids.length >= expected.length;
  }).catch(() => {});
  expect(ids).toEqual(expected);
}

describe("MegaETH's eth_getLogsWithCursor", () => {
  it('backfills through it when the RPC answers it, following every cursor, then goes live', async () => {
    const proxy = await startCursorProxy(anvil.rpcUrl);
    // The first continuations hand back the cursor they were given: the reader must not page forever.
    proxy.state.repeatCursors = 2;
    let ingester: Ingester | undefined;
    try {
      const run = await ingest(proxy.url);
      ingester = run.ingester;
      await streamEqualsChain(run.stream);
      expect(ingester.stats().logMethod).toBe('eth_getLogsWithCursor');
      expect(proxy.state.continued).toBeGreaterThan(3);
      expect(proxy.state.repeated).toBe(2);
      expect(proxy.state.rangeGetLogs).toBe(0);

      await chain.burstBlock(2, 5, 200);
      await chain.burst(4, 201);
      await streamEqualsChain(run.stream);
    } finally {
      await ingester?.stop();
      await proxy.close();
    }
  }, 120_000);

  it('falls back to eth_getLogs on an RPC without it (anvil), and stays off when turned off', async () => {
    const direct = await ingest(anvil.rpcUrl);
    const proxy = await startCursorProxy(anvil.rpcUrl);
    let off: Ingester | undefined;
    try {
      await streamEqualsChain(direct.stream);
      expect(direct.ingester.stats().logMethod).toBe('eth_getLogs');

      const run = await ingest(proxy.url, false);
      off = run.ingester;
      await streamEqualsChain(run.stream);
      expect(off.stats().logMethod).toBe('eth_getLogs');
      expect(proxy.state.cursorCalls).toBe(0);
      expect(proxy.state.rangeGetLogs).toBeGreaterThan(0);
    } finally {
      await direct.ingester.stop();
      await off?.stop();
      await proxy.close();
    }
  }, 120_000);
});
