import { z } from 'zod';
import { type RpcClient, RpcError } from './client.ts';
import { RpcBlockWithTxs, RpcHeader, type RpcLog, RpcLogs, RpcQuantity, RpcReceipt } from './schemas.ts';

const toHex = (n: number) => `0x${n.toString(16)}`;
const MaybeHeader = RpcHeader.nullable();
const MaybeBlock = RpcBlockWithTxs.nullable();
/** MegaETH's eth_getLogsWithCursor: eth_getLogs' logs, and an opaque cursor while more remain. */
const CursorPage = z.object({ logs: RpcLogs, cursor: z.string().min(1).nullish() });
/** A cursor that never ends is a broken node, not a big range. */
const MAX_PAGES = 10_000;

export type LogMethod = 'eth_getLogsWithCursor' | 'eth_getLogs';

export interface ChainReaderOptions {
  /**
   * Range logs through eth_getLogsWithCursor when the node answers it (MegaETH's Realtime API: one call per
   * range, the node pages instead of refusing), eth_getLogs otherwise. `false` keeps to eth_getLogs.
   */
  logsWithCursor?: boolean;
  /** Told once which method range queries use, when the first one answered. */
  onLogMethod?: (method: LogMethod) => void;
}

/** The few chain reads the ingester needs, each answer parsed before use. */
export function createChainReader(
  rpc: RpcClient,
  addresses: string[],
  topics: string[],
  options: ChainReaderOptions = {},
) {
  const address = addresses.map((a) => a.toLowerCase());
  // One OR-list of topic0s: the node returns only the events we index.
  const filterTopics = [topics];
  // Unknown until the first range query: the node either answers the cursor method or says it has none.
  let logMethod: LogMethod | null = options.logsWithCursor === false ? 'eth_getLogs' : null;
  const settle = (method: LogMethod) => {
    if (logMethod === method) return;
    logMethod = method;
    options.onLogMethod?.(method);
  };

  async function logsWithCursor(filter: object): Promise<RpcLog[]> {
    const logs: RpcLog[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await rpc.call(
        'eth_getLogsWithCursor',
        [cursor ? { ...filter, cursor } : filter],
        CursorPage,
      );
      for (const log of answer.logs) logs.push(log);
      if (!answer.cursor) return logs;
      // A cursor handed out twice would page forever (or repeat logs): the whole range is retried.
      if (seen.has(answer.cursor))
        throw new RpcError('garbage', 'eth_getLogsWithCursor', `cursor ${answer.cursor} repeated`);
      seen.add(answer.cursor);
      cursor = answer.cursor;
    }
    throw new RpcError('garbage', 'eth_getLogsWithCursor', `more than ${MAX_PAGES} pages for one range`);
  }

  async function rangeLogs(fromBlock: number, toBlock: number): Promise<RpcLog[]> {
    const filter = { address, topics: filterTopics, fromBlock: toHex(fromBlock), toBlock: toHex(toBlock) };
    if (logMethod !== 'eth_getLogs') {
      try {
        const logs = await logsWithCursor(filter);
        settle('eth_getLogsWithCursor');
        return logs;
      } catch (error) {
        if (!(error instanceof RpcError && error.kind === 'unsupported')) throw error;
        settle('eth_getLogs');
      }
    }
    return rpc.call('eth_getLogs', [filter], RpcLogs);
  }

  return {
    /** The method range queries use: null until the first one answered. */
    logMethod: () => logMethod,
    head: () => rpc.call('eth_blockNumber', [], RpcQuantity),
    chainId: () => rpc.call('eth_chainId', [], RpcQuantity),
    headers: (numbers: number[]) =>
      rpc.batch(
        'eth_getBlockByNumber',
        numbers.map((n) => [toHex(n), false]),
        MaybeHeader,
      ),
    header: (number: number) => rpc.call('eth_getBlockByNumber', [toHex(number), false], MaybeHeader),
    headerByHash: (hash: string) => rpc.call('eth_getBlockByHash', [hash, false], MaybeHeader),
    blocksWithTxs: (numbers: number[]) =>
      rpc.batch(
        'eth_getBlockByNumber',
        numbers.map((n) => [toHex(n), true]),
        MaybeBlock,
      ),
    blockWithTxsByHash: (hash: string) => rpc.call('eth_getBlockByHash', [hash, true], MaybeBlock),
    logs: rangeLogs,
    /** EIP-234: pinned to one block by hash, so a reorg cannot mix two chains into the answer. */
    logsByHash: (blockHash: string) =>
      rpc.call('eth_getLogs', [{ address, topics: filterTopics, blockHash }], RpcLogs),
    receipt: (txHash: string) => rpc.call('eth_getTransactionReceipt', [txHash], RpcReceipt),
    call: (to: string, data: string, blockHash: string) =>
      rpc.call('eth_call', [{ to, data }, { blockHash }], z.string().regex(/^0x[0-9a-fA-F]*$/)),
    callBatch: (calls: { to: string; data: string }[], blockHash: string) =>
      rpc.batch(
        'eth_call',
        calls.map((c) => [c, { blockHash }]),
        z.string().regex(/^0x[0-9a-fA-F]*$/),
      ),
  };
}
export type ChainReader = ReturnType<typeof createChainReader>;
