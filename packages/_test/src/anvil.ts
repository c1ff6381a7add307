import { createRequire } from 'node:module';
import { listeningPorts, waitFor } from './ports.ts';
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
  const chainId = options.chainId ?? 31337;
  // Without a port, anvil binds one itself (0) and we read which: a port picked beforehand could be taken by
  // another test's anvil in between, and that anvil would then answer for ours.
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port ?? 0),
    '--chain-id',
    String(chainId),
    '--silent',
  ];
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime));
  if (options.noMining) args.push('--no-mining');
  args.push(...(options.args ?? []));
  const process = startProcess(ANVIL_BIN, args);
  let port = options.port ?? 0;
  let rpcUrl = '';
  try {
    // An exit ends the wait at once (a throw inside the probe would only be reported at the timeout).
    const state = await waitFor('anvil to listen', async () => {
      if (process.child.exitCode !== null || process.child.signalCode !== null) return 'exited';
      const mine = listeningPorts(process.pid);
      port ||= mine[0] ?? 0;
      return port > 0 && mine.includes(port) ? 'listening' : false;
    });
    if (state === 'exited')
      throw new Error(`anvil exited (${process.child.exitCode ?? process.child.signalCode})`);
    rpcUrl = `http://127.0.0.1:${port}`;
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
