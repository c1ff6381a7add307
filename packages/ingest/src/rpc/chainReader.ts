import { z } from 'zod';
import type { RpcClient } from './client.ts';
import { RpcBlockWithTxs, RpcHeader, RpcLogs, RpcQuantity } from './schemas.ts';

const toHex = (n: number) => `0x${n.toString(16)}`;
const MaybeHeader = RpcHeader.nullable();
const MaybeBlock = RpcBlockWithTxs.nullable();

/** The few chain reads the ingester needs, each answer parsed before use. */
export function createChainReader(rpc: RpcClient, addresses: string[], topics: string[]) {
  const address = addresses.map((a) => a.toLowerCase());
  // One OR-list of topic0s: the node returns only the events we index.
  const filterTopics = [topics];
  return {
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
    logs: (fromBlock: number, toBlock: number) =>
      rpc.call(
        'eth_getLogs',
        [{ address, topics: filterTopics, fromBlock: toHex(fromBlock), toBlock: toHex(toBlock) }],
        RpcLogs,
      ),
    /** EIP-234: pinned to one block by hash, so a reorg cannot mix two chains into the answer. */
    logsByHash: (blockHash: string) =>
      rpc.call('eth_getLogs', [{ address, topics: filterTopics, blockHash }], RpcLogs),
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
