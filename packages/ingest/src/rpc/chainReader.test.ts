import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createChainReader, type LogMethod } from './chainReader.ts';
import { type RpcClient, RpcError } from './client.ts';

const log = (block: number, index: number) => ({
  address: `0x${'aa'.repeat(20)}`,
  topics: [`0x${'11'.repeat(32)}`],
  data: '0x',
  blockNumber: `0x${block.toString(16)}`,
  blockHash: `0x${block.toString(16).padStart(64, '0')}`,
  logIndex: `0x${index.toString(16)}`,
  transactionHash: `0x${'22'.repeat(32)}`,
  transactionIndex: '0x0',
});

type Answer = (params: Record<string, unknown>) => unknown;

/** An RpcClient over canned answers (pure logic: which calls the reader makes and what it makes of them). */
function fakeRpc(answers: Partial<Record<string, Answer>>) {
  const calls: { method: string; params: Record<string, unknown> }[] = [];
  const rpc: RpcClient = {
    url: 'fake',
    async call<S extends z.ZodType>(method: string, params: unknown[], schema: S) {
      const p = params[0] as Record<string, unknown>;
      calls.push({ method, params: p });
      const answer = answers[method];
      if (!answer) throw new RpcError('unsupported', method, 'Method not found');
      return schema.parse(answer(p)) as z.infer<S>;
    },
    async batch() {
      throw new Error('not used');
    },
  };
  return { rpc, calls };
}

describe('range logs', () => {
  it('follow eth_getLogsWithCursor page by page, with the cursor and the same filter', async () => {
    const pages: Record<string, { logs: unknown[]; cursor?: string }> = {
      start: { logs: [log(5, 0), log(5, 1)], cursor: 'c1' },
      c1: { logs: [log(6, 0)], cursor: 'c2' },
      c2: { logs: [log(9, 3)] },
    };
    const told: LogMethod[] = [];
    const { rpc, calls } = fakeRpc({
      eth_getLogsWithCursor: (p) => pages[(p.cursor as string | undefined) ?? 'start'],
    });
    const reader = createChainReader(rpc, [`0x${'AA'.repeat(20)}`], [`0x${'11'.repeat(32)}`], {
      onLogMethod: (m) => told.push(m),
    });
    expect(reader.logMethod()).toBeNull();
    const logs = await reader.logs(5, 9);
    expect(logs.map((l) => `${l.blockNumber}:${l.logIndex}`)).toEqual(['5:0', '5:1', '6:0', '9:3']);
    expect(calls.map((c) => c.params.cursor)).toEqual([undefined, 'c1', 'c2']);
    for (const c of calls) expect(c.params).toMatchObject({ fromBlock: '0x5', toBlock: '0x9' });
    expect(reader.logMethod()).toBe('eth_getLogsWithCursor');
    expect(told).toEqual(['eth_getLogsWithCursor']);
  });

  it('refuse a cursor handed out twice instead of paging forever', async () => {
    const { rpc, calls } = fakeRpc({
      eth_getLogsWithCursor: () => ({ logs: [log(5, 0)], cursor: 'same' }),
    });
    const reader = createChainReader(rpc, [], []);
    const error = await reader.logs(1, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).kind).toBe('garbage');
    expect(calls).toHaveLength(2);
  });

  it('fall back to eth_getLogs once the node says it has no cursor method, and stay there', async () => {
    const told: LogMethod[] = [];
    const { rpc, calls } = fakeRpc({ eth_getLogs: () => [log(3, 0)] });
    const reader = createChainReader(rpc, [], [], { onLogMethod: (m) => told.push(m) });
    expect((await reader.logs(1, 10)).length).toBe(1);
    expect((await reader.logs(11, 20)).length).toBe(1);
    expect(calls.map((c) => c.method)).toEqual(['eth_getLogsWithCursor', 'eth_getLogs', 'eth_getLogs']);
    expect(reader.logMethod()).toBe('eth_getLogs');
    expect(told).toEqual(['eth_getLogs']);
  });

  it('pass other errors of the cursor method on (a range error splits the range as before)', async () => {
    const { rpc } = fakeRpc({
      eth_getLogsWithCursor: () => {
        throw new RpcError('range', 'eth_getLogsWithCursor', 'Query too large for the endpoint');
      },
      eth_getLogs: () => [],
    });
    const reader = createChainReader(rpc, [], []);
    const error = await reader.logs(1, 1_000_000).catch((e: unknown) => e);
    expect((error as RpcError).kind).toBe('range');
    expect(reader.logMethod()).toBeNull();
  });

  it('never ask for the cursor method when it is turned off', async () => {
    const { rpc, calls } = fakeRpc({ eth_getLogs: () => [] });
    const reader = createChainReader(rpc, [], [], { logsWithCursor: false });
    await reader.logs(1, 2);
    expect(calls.map((c) => c.method)).toEqual(['eth_getLogs']);
    expect(reader.logMethod()).toBe('eth_getLogs');
  });
});
