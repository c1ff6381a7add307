export { AppendConflict, Appender } from './append/appender.ts';
export { RangeSizer } from './historical/rangeSizer.ts';
export { createIngester, type Ingester, type IngesterOptions, type IngesterStats } from './ingester.ts';
export { ReorgTooDeep, resyncFromStream } from './reorg/resync.ts';
export { createChainReader } from './rpc/chainReader.ts';
export { createRpcClient, RpcError } from './rpc/client.ts';
