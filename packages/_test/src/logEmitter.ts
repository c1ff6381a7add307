import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  parseAbi,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { TestStream } from './jetstream.ts';

const require = createRequire(import.meta.url);
const SOURCE = fileURLToPath(new URL('../contracts/LogEmitter.sol', import.meta.url));

/** anvil's first dev account: a well-known public test key, never a secret. */
export const ANVIL_KEY_0 = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const;

export const logEmitterAbi = parseAbi([
  'function burst(uint256 n, uint256 salt)',
  'function submitDeaths(uint8 level, address[] users)',
  'function getPosition(address) view returns (uint256 amount)',
]);

let compiled: { abi: unknown; bytecode: Hex } | null = null;

function compile(): { abi: unknown; bytecode: Hex } {
  if (compiled) return compiled;
  const solc = require('solc');
  const input = {
    language: 'Solidity',
    sources: { 'LogEmitter.sol': { content: readFileSync(SOURCE, 'utf8') } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors ?? []).filter((e: { severity: string }) => e.severity === 'error');
  if (errors.length)
    throw new Error(errors.map((e: { formattedMessage: string }) => e.formattedMessage).join('\n'));
  const contract = output.contracts['LogEmitter.sol'].LogEmitter;
  compiled = { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
  return compiled;
}

export interface EmitterChain {
  ghostCore: Address;
  traceScan: Address;
  deployBlock: number;
  /** One transaction emitting n JackedIn (+ some StakeAdded) events, mined in its own block. */
  burst(n: number, salt: number): Promise<void>;
  /** Sends a burst transaction without waiting for it to be mined (for callers that mine themselves). */
  sendBurst(n: number, salt: number): Promise<void>;
  /** Several bursts mined together in one block (automine paused). */
  burstBlock(txs: number, perTx: number, salt: number): Promise<void>;
  submitDeaths(level: number, users: Address[]): Promise<void>;
  mine(blocks?: number): Promise<void>;
  /** Every log of both emitters as the node has them now, in chain order. */
  logs(): Promise<{ blockHash: string; logIndex: number; blockNumber: number }[]>;
}

export async function deployLogEmitters(rpcUrl: string): Promise<EmitterChain> {
  const { bytecode, abi } = compile();
  const account = privateKeyToAccount(ANVIL_KEY_0);
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ transport });
  const chainId = await publicClient.getChainId();
  const chain = {
    id: chainId,
    name: 'anvil',
    nativeCurrency: { name: 'ETH', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  };
  const wallet = createWalletClient({ account, transport, chain });
  const test = createTestClient({ mode: 'anvil', transport, chain });
  const deploy = async () => {
    const hash = await wallet.deployContract({ abi: abi as never, bytecode });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    return receipt.contractAddress!;
  };
  const ghostCore = await deploy();
  const traceScan = await deploy();
  const deployBlock = Number(await publicClient.getBlockNumber());
  let nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' });

  // Re-read before each transaction or batch: a reorg drops mined transactions and moves the nonce back.
  const syncNonce = async () => {
    nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' });
  };
  const send = async (to: Address, data: Hex) => {
    const hash = await wallet.sendTransaction({ to, data, nonce: nonce++, gas: 2_000_000n });
    return hash;
  };
  const { encodeFunctionData } = await import('viem');
  return {
    ghostCore: ghostCore.toLowerCase() as Address,
    traceScan: traceScan.toLowerCase() as Address,
    deployBlock,
    async burst(n, salt) {
      await syncNonce();
      const hash = await send(
        ghostCore,
        encodeFunctionData({ abi: logEmitterAbi, functionName: 'burst', args: [BigInt(n), BigInt(salt)] }),
      );
      await publicClient.waitForTransactionReceipt({ hash });
    },
    async sendBurst(n, salt) {
      await syncNonce();
      await send(
        ghostCore,
        encodeFunctionData({ abi: logEmitterAbi, functionName: 'burst', args: [BigInt(n), BigInt(salt)] }),
      );
    },
    async burstBlock(txs, perTx, salt) {
      await syncNonce();
      await test.setAutomine(false);
      const hashes: Hex[] = [];
      for (let i = 0; i < txs; i++) {
        hashes.push(
          await send(
            ghostCore,
            encodeFunctionData({
              abi: logEmitterAbi,
              functionName: 'burst',
              args: [BigInt(perTx), BigInt(salt * 1000 + i)],
            }),
          ),
        );
      }
      await test.mine({ blocks: 1 });
      await test.setAutomine(true);
      await publicClient.waitForTransactionReceipt({ hash: hashes[hashes.length - 1]! });
    },
    async submitDeaths(level, users) {
      await syncNonce();
      const hash = await send(
        traceScan,
        encodeFunctionData({ abi: logEmitterAbi, functionName: 'submitDeaths', args: [level, users] }),
      );
      await publicClient.waitForTransactionReceipt({ hash });
    },
    async mine(blocks = 1) {
      await test.mine({ blocks });
    },
    async logs() {
      // Raw JSON-RPC: viem refuses responses over 10 MB, and a busy history is larger than that.
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'eth_getLogs',
          params: [
            {
              address: [ghostCore, traceScan],
              fromBlock: `0x${deployBlock.toString(16)}`,
              toBlock: 'latest',
            },
          ],
        }),
      });
      const { result } = (await response.json()) as {
        result: { blockHash: string; logIndex: string; blockNumber: string }[];
      };
      return result.map((l) => ({
        blockHash: l.blockHash.toLowerCase(),
        logIndex: Number(l.logIndex),
        blockNumber: Number(l.blockNumber),
      }));
    },
  };
}

/**
 * What an ingester needs to follow this chain into a test stream (made with the chain's id): the options every
 * ingester test repeats. The RPC URL (anvil, or a proxy in front of it) and the rest are the test's own.
 */
export function ingestTarget(chain: EmitterChain, stream: TestStream) {
  return {
    chainId: stream.chainId,
    addresses: { GhostCore: chain.ghostCore, TraceScan: chain.traceScan },
    startBlock: chain.deployBlock,
    nc: stream.nc,
    streamName: stream.name,
    subjectPrefix: stream.prefix,
  };
}
