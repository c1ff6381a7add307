import { createRequire } from 'node:module';
import { freePort, waitFor } from './ports.ts';
import { type Started, startProcess } from './process.ts';

const require = createRequire(import.meta.url);

/** The anvil binary from npm, run directly: `npx anvil` would leave it running when killed. */
export const ANVIL_BIN = require.resolve('@foundry-rs/anvil-linux-amd64/bin/anvil');

export interface AnvilOptions {
  port?: number;
  chainId?: number;
  /** Seconds per block; omitted = automine. */
  blockTime?: number;
  noMining?: boolean;
  args?: string[];
}

export interface Anvil {
  rpcUrl: string;
  wsUrl: string;
  port: number;
  chainId: number;
  process: Started;
  stop(): Promise<void>;
}

export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? 31337;
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent'];
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime));
  if (options.noMining) args.push('--no-mining');
  args.push(...(options.args ?? []));
  const process = startProcess(ANVIL_BIN, args);
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor('anvil to answer', async () => {
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      });
      return response.ok;
    });
  } catch (error) {
    await process.kill();
    throw new Error(`${(error as Error).message}\n${process.output()}`);
  }
  return { rpcUrl, wsUrl: `ws://127.0.0.1:${port}`, port, chainId, process, stop: () => process.stop() };
}
